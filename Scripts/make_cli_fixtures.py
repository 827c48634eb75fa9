#!/usr/bin/env python3
"""Regenerates Tests/TelmeCLITests/Fixtures: a tiny teacher-only MELD model exported by the
real exporter, a small corpus with awkward text, and the PyTorch reference of every
utterance's teacher probabilities (transformers 4.27.2 tokenizer + the authors' prompt).

Run with the project's venv: `python3 Scripts/make_cli_fixtures.py`.
"""
import csv
import json
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_token_golden import prompts, telme_tokenizer  # noqa: E402
from telme_fixtures.checkpoints import build_checkpoints, export  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "Tests", "TelmeCLITests", "Fixtures")

ROWS = [  # Utterance, Speaker, Emotion, Dialogue_ID, Utterance_ID, StartTime, EndTime
    ("Hi, how are you?", "Ana", "neutral", "0", "0", "00:00:01,000", "00:00:02,500"),
    ('She said "no", and left.', "Ben", "sadness", "0", "1", "00:00:02,600", "00:00:04,000"),
    ("Line one\nline two", "Ana", "surprise", "0", "2", "00:00:04,100", "00:00:06,000"),
    ("I can\u0092t believe it!", "Cleo", "joy", "1", "0", "00:01:00,000", "00:01:01,000"),
    ("Ugh.", "Dev", "disgust", "1", "1", "00:01:01,500", "00:01:02,000"),
    ("Who's there?", "Cleo", "fear", "1", "2", "00:01:02,500", "00:01:03,500"),
    ("Nobody. Relax, the weather is fine.", "Eli", "neutral", "1", "3", "00:01:04,000", "00:01:06,000"),
    ("Why would you do that", "Ana", "anger", "2", "0", "00:02:00,000", "00:02:01,000"),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    corpus = os.path.join(OUT, "corpus.csv")
    with open(corpus, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Sr No.", "Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID", "StartTime", "EndTime"])
        for i, r in enumerate(ROWS):
            w.writerow([i + 1, *r])
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = build_checkpoints(tmp, "meld", seed=3)
        export(ckpt, os.path.join(OUT, "text-meld.h5"), components=("teacher",))
        tok = telme_tokenizer(ckpt["paths"]["tokenizer"])
        teacher = ckpt["models"]["teacher"]
        reference = {}
        for numbering in ("official", "dialogue"):
            rows = [(r[3], r[1], r[0]) for r in ROWS]
            out = []
            for prompt in prompts(rows, numbering):
                ids = tok.convert_tokens_to_ids(tok.tokenize(prompt)[-511:]) + [tok.mask_token_id]
                with torch.no_grad():
                    _, logits = teacher(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
                out.append({"ids": ids, "probabilities": torch.softmax(logits.double(), -1)[0].tolist(),
                            "label": int(logits.argmax(-1))})
            reference[numbering] = out
    with open(os.path.join(OUT, "text-meld-reference.json"), "w") as f:
        json.dump(reference, f)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
