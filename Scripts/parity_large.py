#!/usr/bin/env python3
"""Text teacher parity at the paper's size (outside CI; needs ~8 GB of RAM and disk, minutes).

Builds a random-weight TelME teacher with roberta-large's shape (24 layers, hidden 1024, 16
heads, FFN 4096, vocab 50265 + the 9 speaker tokens = 50274 rows, 514 positions; W 1024 -> 768,
classifier 768 -> C) with Scripts/telme_fixtures/checkpoints.py, saves it as the authors'
`teacher.bin` + config, exports it with the REAL exporter and the real tokenizer files,
converts it with `telme convert`, then runs `telme forward` on teacher inputs made from real
MELD dialogues (prompt format of TELME_REFERENCE.md, tokenised by transformers 4.27.2) and
prints, per case, the max abs error of `text_hidden` and `text_logits` against PyTorch, the
argmax agreement, and the timings.

    /work/venv/bin/python Scripts/parity_large.py [--telme .build/release/telme]

Build the tool first: `swift build -c release --scratch-path .build-text` (then pass
`--telme .build-text/release/telme`). Exit status 1 when an error exceeds --tolerance or an
argmax differs.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch
from transformers import RobertaConfig, RobertaTokenizer
from transformers.utils import logging as hf_logging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from telme_fixtures.checkpoints import LABELS, SPEAKER_TOKENS, Teacher, export, perturb  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
PAD = 1


def roberta_large_config():
    """roberta-large's architecture (weights are random here)."""
    return RobertaConfig(vocab_size=50265, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                         intermediate_size=4096, max_position_embeddings=514, type_vocab_size=1,
                         layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2, hidden_act="gelu")


def build(tmp, dataset, tokenizer_dir, seed):
    """A roberta-large-size teacher in the authors' file layout."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    config = roberta_large_config()
    teacher = Teacher(config, config.vocab_size + len(SPEAKER_TOKENS), 768, len(LABELS[dataset])).eval()
    # HF's init (normal 0.02, LayerNorm 1/0) moved a little so every tensor matters.
    perturb(teacher, generator, scale=0.02)
    paths = {"teacher": os.path.join(tmp, "teacher.bin"), "text_config": os.path.join(tmp, "text_config.json"),
             "tokenizer": tokenizer_dir}
    torch.save(teacher.state_dict(), paths["teacher"])
    teacher.text_model.config.to_json_file(paths["text_config"])
    return {"paths": paths, "dataset": dataset}, teacher


def teacher_inputs(tokenizer, csv_path, lengths):
    """One teacher input per wanted length from the MELD dialogues of `csv_path`, in the
    reference's prompt format (plain per-dialogue speaker numbering): the context of the
    first utterance whose prompt has at least length - 1 tokens, cut to its last length - 1
    tokens, then <mask>. Lengths no single dialogue reaches (MELD dialogues are short) take
    a context that runs on across dialogues."""
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    mask_id = tokenizer.mask_token_id
    found = {}
    for across_dialogues in (False, True):
        context, speakers, dialogue = [], [], None
        for row in rows:
            if row["Dialogue_ID"] != dialogue:
                speakers, dialogue = [], row["Dialogue_ID"]
                if not across_dialogues:
                    context = []
            if row["Speaker"] not in speakers:
                speakers.append(row["Speaker"])
            number = speakers.index(row["Speaker"]) + 1
            context.append(f"<s{number}> {row['Utterance']} ")
            prompt = "".join(context).strip() + " </s> " + f"Now <s{number}> feels"
            ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            for length in lengths:
                if length not in found and len(ids) >= length - 1:
                    found[length] = ids[-(length - 1):] + [mask_id]
            if len(found) == len(lengths):
                return [found[n] for n in lengths]
    sys.exit(f"{csv_path}: no context reaches {[n for n in lengths if n not in found]} tokens")


def left_padded(sequences):
    length = max(len(s) for s in sequences)
    ids = np.full((len(sequences), length), PAD, np.int64)
    mask = np.zeros((len(sequences), length), np.int64)
    for i, s in enumerate(sequences):
        ids[i, length - len(s):] = s
        mask[i, length - len(s):] = 1
    return ids, mask


def run(cmd):
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr.strip()}")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--telme", default=os.path.join(ROOT, ".build", "release", "telme"),
                        help="the telme executable (a release build)")
    parser.add_argument("--tokenizer", default=os.path.join(SHARED, "tokenizers", "roberta"))
    parser.add_argument("--corpus", default=os.path.join(SHARED, "data", "meld", "train_meld_emo.csv"))
    parser.add_argument("--dataset", default="meld", choices=sorted(LABELS))
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", help="keep the files here instead of a temporary folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()  # the tokenizer folder has no tokenizer_config.json

    tokenizer = RobertaTokenizer.from_pretrained(args.tokenizer)
    tokenizer.add_special_tokens({"additional_special_tokens": SPEAKER_TOKENS})
    t128, t512, t37, t300 = teacher_inputs(tokenizer, args.corpus, [128, 512, 37, 300])
    cases = {
        "one utterance, 128 tokens": left_padded([t128]),
        "one utterance, 512 tokens": left_padded([t512]),
        "padded batch of 4: 512, 128, 37, 300 tokens": left_padded([t512, t128, t37, t300]),
    }

    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.workdir or scratch
        os.makedirs(tmp, exist_ok=True)
        start = time.perf_counter()
        checkpoints, teacher = build(tmp, args.dataset, args.tokenizer, seed=11)
        build_time = time.perf_counter() - start
        model_h5 = os.path.join(tmp, "model.h5")
        model_telme = os.path.join(tmp, "model.telme")
        start = time.perf_counter()
        export(checkpoints, model_h5, components=("teacher",))
        export_time = time.perf_counter() - start
        convert_time = run([args.telme, "convert", model_h5, "-o", model_telme])
        print(f"teacher at roberta-large size: {sum(p.numel() for p in teacher.parameters()) / 1e6:.1f} M parameters, "
              f".telme {os.path.getsize(model_telme) / 2**30:.2f} GiB")
        print(f"  build {build_time:.1f} s, export {export_time:.1f} s, telme convert {convert_time:.1f} s")

        failed = False
        for name, (ids, mask) in cases.items():
            with torch.no_grad():
                start = time.perf_counter()
                hidden, logits = teacher(torch.from_numpy(ids), torch.from_numpy(mask))
                torch_time = time.perf_counter() - start
            inputs = os.path.join(tmp, "in.h5")
            outputs = os.path.join(tmp, "out.h5")
            with h5py.File(inputs, "w") as f:
                f.create_dataset("input_ids", data=ids)
                f.create_dataset("attention_mask", data=mask)
            forward_time = run([args.telme, "forward", "--model", model_telme, "--inputs", inputs, "-o", outputs])
            with h5py.File(outputs, "r") as f:
                swift_hidden = f["text_hidden"][()]
                swift_logits = f["text_logits"][()]
            hidden, logits = hidden.numpy(), logits.numpy()
            hidden_error = float(np.abs(swift_hidden - hidden).max())
            logits_error = float(np.abs(swift_logits - logits).max())
            agree = np.array_equal(swift_logits.argmax(-1), logits.argmax(-1))
            print(f"{name} (input {ids.shape[0]} x {ids.shape[1]})")
            print(f"  text_hidden max abs error {hidden_error:.3e} (values up to {np.abs(hidden).max():.2f})")
            print(f"  text_logits max abs error {logits_error:.3e} (values up to {np.abs(logits).max():.2f})")
            print(f"  argmax agreement: {'yes' if agree else 'NO'} (PyTorch {logits.argmax(-1).tolist()}, "
                  f"telme {swift_logits.argmax(-1).tolist()})")
            print(f"  time: PyTorch forward {torch_time:.2f} s ({args.threads} threads); telme forward "
                  f"{forward_time:.2f} s (whole process: opening and checking the model, reading, writing)")
            failed |= max(hidden_error, logits_error) > args.tolerance or not agree
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
