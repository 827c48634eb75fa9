#!/usr/bin/env python3
"""Video student and ASF parity at the paper's size (outside CI; takes a few minutes).

Builds random-weight checkpoints: a video student with the timesformer-base-finetuned-k400
shape (224 x 224, patch 16, 8 frames, hidden 768, 12 layers, 12 heads, FFN 3072, divided
space-time attention) and a paper-sized ASF (text 768, audio + video 1536, MELD 3 heads /
IEMOCAP 4 heads), next to a tiny teacher whose projection is 768 wide and a one-layer audio
student of width 768 (the fusion takes their widths; their own parity is checked elsewhere).
It exports them with the REAL exporter, converts with `telme convert`, runs `telme forward`
on four clips (with text and audio inputs so the fusion runs) in both batch semantics, and
prints the max abs error of `video_hidden`, `video_logits` and `fusion_logits` against
PyTorch and whether every argmax agrees.

    swift build -c release --product telme
    /work/venv/bin/python Scripts/parity_large_video.py [--telme .build/release/telme]

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
from transformers import Data2VecAudioConfig, TimesformerConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from telme_fixtures.checkpoints import (ASF, FUSION, LABELS, SPEAKER_TOKENS, AudioStudent, Teacher,  # noqa: E402
                                        VideoStudent, export, perturb, tiny_configs, tiny_tokenizer)
from telme_fixtures.fx_video import clip  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timesformer_base_config():
    """facebook/timesformer-base-finetuned-k400's architecture (weights are random here)."""
    return TimesformerConfig(image_size=224, patch_size=16, num_channels=3, num_frames=8, hidden_size=768,
                             num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                             hidden_act="gelu", layer_norm_eps=1e-6, qkv_bias=True,
                             attention_type="divided_space_time")


def narrow_audio_config():
    """One transformer layer of width 768 on a small feature extractor: h_a has the paper's width."""
    return Data2VecAudioConfig(hidden_size=768, num_hidden_layers=1, num_attention_heads=12, intermediate_size=3072,
                               conv_dim=[32] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
                               conv_bias=True, num_conv_pos_embeddings=5, conv_pos_kernel_size=19,
                               num_conv_pos_embedding_groups=16, layer_norm_eps=1e-5)


def build(tmp, dataset, seed):
    """Checkpoints in the authors' file layout, and the eval-mode torch modules."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    classes = len(LABELS[dataset])
    tokenizer = os.path.join(tmp, "tokenizer")
    text_cfg, _, _ = tiny_configs(tiny_tokenizer(tokenizer))
    audio_cfg, video_cfg = narrow_audio_config(), timesformer_base_config()
    models = {
        "teacher": Teacher(text_cfg, text_cfg.vocab_size + len(SPEAKER_TOKENS), 768, classes).eval(),
        "audio": AudioStudent(audio_cfg, classes).eval(),
        "video": VideoStudent(video_cfg, classes).eval(),
    }
    heads, beta = FUSION[dataset]
    models["fusion"] = ASF(768, 768, 768, heads, beta, classes).eval()
    # Small perturbations keep 12 layers of random weights in a realistic range.
    for name, module in models.items():
        perturb(module, generator, scale=0.05 if name == "teacher" else 0.02)
    for sub in ("student_audio", "student_video"):
        os.makedirs(os.path.join(tmp, sub), exist_ok=True)
    paths = {
        "teacher": os.path.join(tmp, "teacher.bin"),
        "audio": os.path.join(tmp, "student_audio", "total_student.bin"),
        "video": os.path.join(tmp, "student_video", "total_student.bin"),
        "fusion": os.path.join(tmp, "total_fusion.bin"),
        "text_config": os.path.join(tmp, "text_config.json"),
        "audio_config": os.path.join(tmp, "audio_config.json"),
        "video_config": os.path.join(tmp, "video_config.json"),
        "tokenizer": tokenizer,
    }
    for name in ("teacher", "audio", "video", "fusion"):
        torch.save(models[name].state_dict(), paths[name])
    for name, cfg in (("text_config", text_cfg), ("audio_config", audio_cfg), ("video_config", video_cfg)):
        cfg.to_json_file(paths[name])
    return {"paths": paths, "dataset": dataset}, models


def run(cmd):
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr.strip()}")
    return time.perf_counter() - start


def report(name, swift, torch_value, failures, tolerance):
    error = float(np.abs(swift - torch_value).max())
    line = f"  {name:<32} max abs error {error:.3e}"
    if name.endswith("logits"):
        agree = np.array_equal(swift.argmax(-1), torch_value.argmax(-1))
        line += f"; argmax {'agrees' if agree else 'DIFFERS'} (PyTorch {torch_value.argmax(-1).tolist()}, " \
                f"telme {swift.argmax(-1).tolist()})"
        if not agree:
            failures.append(name)
    if error > tolerance:
        failures.append(name)
    print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--telme", default=os.path.join(ROOT, ".build", "release", "telme"),
                        help="the telme executable (build it with `swift build -c release`)")
    parser.add_argument("--dataset", default="meld", choices=sorted(LABELS))
    parser.add_argument("--clips", type=int, default=4, help="batch size (4 makes one official ASF batch)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    failures = []

    with tempfile.TemporaryDirectory() as tmp:
        checkpoints, models = build(tmp, args.dataset, seed=7)
        model_h5 = os.path.join(tmp, "model.h5")
        model_telme = os.path.join(tmp, "model.telme")
        export(checkpoints, model_h5)
        convert_time = run([args.telme, "convert", model_h5, "-o", model_telme])

        rng = np.random.default_rng(7)
        n = args.clips
        video_cfg = models["video"].model.config
        video = np.stack([clip(rng, video_cfg) for _ in range(n)])
        if n > 1:
            video[1] = 0  # the all-zero clip of the MELD > 30 s rule
        audio = rng.standard_normal((n, 8000)).astype(np.float32)
        audio = ((audio - audio.mean(1, keepdims=True)) / np.sqrt(audio.var(1, keepdims=True) + 1e-7)).astype(np.float32)
        vocab = models["teacher"].text_model.config.vocab_size
        ids = rng.integers(3, vocab, size=(n, 12)).astype(np.int64)
        mask = np.ones_like(ids)

        with torch.no_grad():
            start = time.perf_counter()
            h_v, video_logits = models["video"](torch.from_numpy(video))
            torch_video_time = time.perf_counter() - start
            h_t, _ = models["teacher"](torch.from_numpy(ids), torch.from_numpy(mask))
            h_a, _ = models["audio"](torch.from_numpy(audio))
            fusion = models["fusion"]
            independent = torch.cat([fusion(h_t[i:i + 1], h_a[i:i + 1], h_v[i:i + 1]) for i in range(n)]).numpy()
            official = torch.cat([fusion(h_t[i:i + 4], h_a[i:i + 4], h_v[i:i + 4]) for i in range(0, n, 4)]).numpy()
        h_v, video_logits = h_v.numpy(), video_logits.numpy()

        inputs = os.path.join(tmp, "in.h5")
        with h5py.File(inputs, "w") as f:
            f.create_dataset("video", data=video)
            f.create_dataset("audio", data=audio)
            f.create_dataset("input_ids", data=ids)
            f.create_dataset("attention_mask", data=mask)
        outputs = {}
        times = {}
        for semantics in ("independent", "official-batch4"):
            out = os.path.join(tmp, f"out-{semantics}.h5")
            times[semantics] = run([args.telme, "forward", "--model", model_telme, "--inputs", inputs, "-o", out,
                                    "--batch-semantics", semantics])
            with h5py.File(out, "r") as f:
                outputs[semantics] = {k: f[k][()] for k in f.keys()}
        size = os.path.getsize(model_telme)

    heads, beta = FUSION[args.dataset]
    print(f"video student, timesformer-base-finetuned-k400 shape, {n} clips of 8 x 3 x 224 x 224 "
          f"(clip 1 all zero); ASF 768 + 1536, {heads} heads, beta {beta} ({args.dataset})")
    ind, off = outputs["independent"], outputs["official-batch4"]
    report("video_hidden", ind["video_hidden"], h_v, failures, args.tolerance)
    report("video_logits", ind["video_logits"], video_logits, failures, args.tolerance)
    report("fusion_logits (independent)", ind["fusion_logits"], independent, failures, args.tolerance)
    report("fusion_logits (official-batch4)", off["fusion_logits"], official, failures, args.tolerance)
    print(f"  time: PyTorch video forward {torch_video_time:.2f} s; telme convert {convert_time:.2f} s, "
          f"telme forward {times['independent']:.2f} s (process: mapping the {size / 1e6:.0f} MB model, "
          f"all encoders and the fusion)")
    if failures:
        print("FAILED: " + ", ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
