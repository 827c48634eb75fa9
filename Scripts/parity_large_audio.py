#!/usr/bin/env python3
"""Audio student parity at the paper's size (outside CI; takes a minute or two).

Builds a random-weight audio student with the data2vec-audio-base-960h shape (hidden 768,
12 layers, 12 heads, FFN 3072, 7 conv layers of 512 channels, 5 positional conv layers of
kernel 19 and 16 groups, conv_bias true) next to a tiny text teacher (a `.telme` always has
one), exports both with the REAL exporter, converts with `telme convert`, runs
`telme forward` on two 3-second clips at 22050 Hz, and prints the max abs error of
`audio_hidden` and `audio_logits` against PyTorch and whether every argmax agrees.

    /work/venv/bin/python Scripts/parity_large_audio.py [--telme .build/release/telme]

Exit status 1 when an error exceeds --tolerance or an argmax differs.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch
from transformers import Data2VecAudioConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from telme_fixtures.checkpoints import (LABELS, SPEAKER_TOKENS, AudioStudent, Teacher, export,  # noqa: E402
                                        perturb, tiny_configs, tiny_tokenizer)
from telme_fixtures.fx_audio import clip  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def base_960h_config():
    """facebook/data2vec-audio-base-960h's architecture (weights are random here)."""
    return Data2VecAudioConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                               intermediate_size=3072, conv_dim=[512] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2],
                               conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=True, num_conv_pos_embeddings=5,
                               conv_pos_kernel_size=19, num_conv_pos_embedding_groups=16, layer_norm_eps=1e-5,
                               hidden_act="gelu", feat_extract_activation="gelu")


def build(tmp, dataset, seed):
    """Tiny teacher + base-size audio student in the authors' file layout."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    classes = len(LABELS[dataset])
    tokenizer = os.path.join(tmp, "tokenizer")
    text_cfg, _, _ = tiny_configs(tiny_tokenizer(tokenizer))
    teacher = Teacher(text_cfg, text_cfg.vocab_size + len(SPEAKER_TOKENS), 24, classes).eval()
    audio_cfg = base_960h_config()
    audio = AudioStudent(audio_cfg, classes).eval()
    # Small perturbations keep 12 layers of random weights in a realistic range.
    perturb(teacher, generator)
    perturb(audio, generator, scale=0.02)
    os.makedirs(os.path.join(tmp, "student_audio"), exist_ok=True)
    paths = {
        "teacher": os.path.join(tmp, "teacher.bin"),
        "audio": os.path.join(tmp, "student_audio", "total_student.bin"),
        "text_config": os.path.join(tmp, "text_config.json"),
        "audio_config": os.path.join(tmp, "audio_config.json"),
        "tokenizer": tokenizer,
    }
    torch.save(teacher.state_dict(), paths["teacher"])
    torch.save(audio.state_dict(), paths["audio"])
    text_cfg.to_json_file(paths["text_config"])
    audio_cfg.to_json_file(paths["audio_config"])
    return {"paths": paths, "dataset": dataset}, audio


def run(cmd):
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr.strip()}")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--telme", default=os.path.join(ROOT, ".build", "release", "telme"),
                        help="the telme executable (build it with `swift build -c release`)")
    parser.add_argument("--dataset", default="meld", choices=sorted(LABELS))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rate", type=int, default=22050)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        checkpoints, student = build(tmp, args.dataset, seed=7)
        model_h5 = os.path.join(tmp, "model.h5")
        model_telme = os.path.join(tmp, "model.telme")
        export(checkpoints, model_h5, components=("teacher", "audio"))
        convert_time = run([args.telme, "convert", model_h5, "-o", model_telme])

        rng = np.random.default_rng(7)
        samples = int(round(args.seconds * args.rate))
        audio = np.stack([clip(rng, samples, args.rate), clip(rng, samples, args.rate)])
        with torch.no_grad():
            start = time.perf_counter()
            hidden, logits = student(torch.from_numpy(audio))
            torch_time = time.perf_counter() - start

        inputs = os.path.join(tmp, "in.h5")
        outputs = os.path.join(tmp, "out.h5")
        with h5py.File(inputs, "w") as f:
            f.create_dataset("audio", data=audio)
        forward = [args.telme, "forward", "--model", model_telme, "--inputs", inputs, "-o", outputs]
        rss_file = os.path.join(tmp, "rss")
        if os.path.exists("/usr/bin/time"):
            forward = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + forward
        forward_time = run(forward)
        peak_rss = int(open(rss_file).read().split()[-1]) * 1024 if os.path.exists(rss_file) else None
        model_bytes = os.path.getsize(model_telme)
        with h5py.File(outputs, "r") as f:
            swift_hidden = f["audio_hidden"][()]
            swift_logits = f["audio_logits"][()]

    hidden, logits = hidden.numpy(), logits.numpy()
    hidden_error = float(np.abs(swift_hidden - hidden).max())
    logits_error = float(np.abs(swift_logits - logits).max())
    agree = np.array_equal(swift_logits.argmax(-1), logits.argmax(-1))
    frames = student.model._get_feat_extract_output_lengths(torch.tensor(samples))
    print(f"audio student, data2vec-audio-base-960h shape, batch 2 x {samples} samples "
          f"({args.seconds:g} s at {args.rate} Hz, {int(frames)} frames)")
    print(f"  audio_hidden max abs error {hidden_error:.3e}")
    print(f"  audio_logits max abs error {logits_error:.3e}")
    print(f"  argmax agreement: {'yes' if agree else 'NO'} (PyTorch {logits.argmax(-1).tolist()}, "
          f"telme {swift_logits.argmax(-1).tolist()})")
    print(f"  time: PyTorch forward {torch_time:.2f} s; telme convert {convert_time:.2f} s, "
          f"telme forward {forward_time:.2f} s (process, including mapping the model)")
    if peak_rss is not None:
        print(f"  telme forward peak RSS {peak_rss / 2**20:.0f} MiB; model file {model_bytes / 2**20:.0f} MiB")
    if max(hidden_error, logits_error) > args.tolerance or not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
