"""Cost of one long dialogue: peak memory and time per utterance of `telme annotate --text-only`
on single-dialogue MELD-style CSVs of several lengths (issue 13, class 5).

    swift build --product telme            # or -c release
    python -m Tools.bench.long_dialogue --telme .build/debug/telme [--sizes 1000,100000]   (from the repository root)

The model: the CLI tests' tiny teacher (Tests/TelmeCLITests/Fixtures/text-meld.h5, hidden size
32) with the real RoBERTa tokenizer (../shared/tokenizers/roberta) and a random word embedding of
its 50,274 rows, so that tokenisation, which the window bounds, is what it is on real text;
converted with `telme convert`. The corpus: one dialogue of N utterances cycling through the
texts and speakers of MELD's train split (../shared/data/meld/train_meld_emo.csv), so every
utterance past the first ~30 has a full 511-token window.

Each size runs as one process under /usr/bin/time -v (peak RSS: "Maximum resident set size");
time per utterance = (elapsed - elapsed of a 1-utterance run) / N, so the model load and the
process start are not spread over the utterances. `--threads 1` for both. Prints one line per
size and the growth of the time per utterance from the smallest size to the largest.
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

from Tools import ROOT, SHARED


def build_model(work, telme):
    """text-meld.h5 with the real RoBERTa tokenizer and a 50,274-row word embedding, converted."""
    model = os.path.join(work, "long-dialogue.telme")
    if os.path.exists(model):
        return model
    export = os.path.join(work, "long-dialogue.h5")
    shutil.copy(os.path.join(ROOT, "Tests/TelmeCLITests/Fixtures/text-meld.h5"), export)
    vocab = open(os.path.join(SHARED, "tokenizers/roberta/vocab.json"), "rb").read()
    merges = open(os.path.join(SHARED, "tokenizers/roberta/merges.txt"), "rb").read()
    rows = len(json.loads(vocab)) + 9  # <s1>...<s9>
    with h5py.File(export, "r+") as f:
        for name, data in (("vocab.json", vocab), ("merges.txt", merges)):
            del f["tokenizer"][name]
            f["tokenizer"].create_dataset(name, data=np.frombuffer(data, dtype=np.uint8))
        name = "text_model.embeddings.word_embeddings.weight"
        hidden = f["teacher"][name].shape[1]
        del f["teacher"][name]
        rng = np.random.default_rng(13)
        f["teacher"].create_dataset(name, data=rng.normal(0, 0.02, (rows, hidden)).astype(np.float32))
        config = json.loads(f["teacher"].attrs["config"])
        config["vocab_size"] = rows
        f["teacher"].attrs["config"] = json.dumps(config)
    subprocess.run([telme, "convert", export, "-o", model], check=True, stdout=subprocess.DEVNULL)
    return model


def write_corpus(path, n):
    """One dialogue of n utterances from MELD's train split, cycled."""
    with open(os.path.join(SHARED, "data/meld/train_meld_emo.csv"), newline="", encoding="utf-8") as f:
        source = [(r["Utterance"], r["Speaker"], r["Emotion"]) for r in csv.DictReader(f)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID"])
        for k in range(n):
            text, speaker, emotion = source[k % len(source)]
            w.writerow([text, speaker, emotion, 0, k])


def run(telme, model, corpus, out):
    shutil.rmtree(out, ignore_errors=True)
    command = ["/usr/bin/time", "-v", telme, "annotate", "--model", model, "--corpus", corpus, "--out", out,
               "--text-only", "--threads", "1", "--format", "jsonl"]
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode not in (0, 1):
        sys.exit(f"telme annotate failed ({result.returncode}):\n{result.stderr[-2000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return elapsed, rss_kb / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--telme", default=os.path.join(ROOT, ".build/debug/telme"))
    parser.add_argument("--work", default="/tmp/telme-bench-long-dialogue")
    parser.add_argument("--sizes", default="1000,100000")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    telme = os.path.abspath(args.telme)
    model = build_model(args.work, telme)

    base_corpus = os.path.join(args.work, "n1.csv")
    write_corpus(base_corpus, 1)
    base, base_rss = run(telme, model, base_corpus, os.path.join(args.work, "out-1"))
    print(f"1 utterance: {base:.2f} s, peak RSS {base_rss:.0f} MB (start-up and model load)", flush=True)
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        corpus = os.path.join(args.work, f"n{n}.csv")
        write_corpus(corpus, n)
        elapsed, rss = run(telme, model, corpus, os.path.join(args.work, f"out-{n}"))
        per = (elapsed - base) / n
        results.append((n, per))
        print(f"{n} utterances: {elapsed:.1f} s, {per * 1000:.3f} ms per utterance, peak RSS {rss:.0f} MB", flush=True)
    (n0, first), (n1, last) = results[0], results[-1]
    print(f"time per utterance from {n0} to {n1} utterances: {(last / first - 1) * 100:+.1f} %")


if __name__ == "__main__":
    main()
