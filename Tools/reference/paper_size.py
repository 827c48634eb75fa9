"""Parity of `telme forward` with PyTorch on ONE TelME model at the paper's sizes (outside CI).

Builds random-weight checkpoints in the authors' file layout with
Tools/reference/checkpoints.py, all four parts at the sizes of the released model:

  teacher  roberta-large (24 layers, hidden 1024, 16 heads, FFN 4096, 50265 + 9 speaker-token
           rows, 514 positions), W 1024 -> 768, classifier 768 -> classes
  audio    data2vec-audio-base-960h (12 layers, hidden 768, 7 conv layers of 512 channels,
           5 positional conv layers of kernel 19 and 16 groups)
  video    timesformer-base-finetuned-k400 (224 x 224, patch 16, 8 frames, 12 layers,
           hidden 768, divided space-time attention)
  fusion   ASF, text 768, audio + video 1536 (MELD 3 heads / beta 0.1, IEMOCAP 4 / 0.2)

with the real RoBERTa tokenizer files, exports them with the REAL exporter
(Scripts/export_hdf5.py), converts with `telme convert`, and runs `telme forward` on:

  text     real prompts of the corpus (reference prompt format, transformers 4.27.2
           tokenizer): one of 128 tokens, one of 512, a left-padded batch of 512/128/37/300
  audio    2 clips of 3 s at 22050 Hz, 1 clip of 18 s (voiced-looking, normalised)
  video    4 clips of 8 x 3 x 224 x 224 (clip 1 all zero, the MELD > 30 s rule)
  fusion   the 4 clips with 4 consecutive prompts of one dialogue and 4 x 3 s of audio, once
           per --batch-semantics (independent, official-batch4); the model's fusion order

then prints one table: per output, the max abs error against PyTorch, the largest PyTorch
magnitude, argmax agreement (logits), and per `telme forward` process its wall time, the
PyTorch time of the same computation, and its peak RSS against the .telme file size.

    swift build -c release --product telme
    python -m Tools.reference.paper_size --telme .build/release/telme    (from the repository root)

Needs about 10 GB of disk (checkpoints, HDF5 export, .telme; a temporary folder unless --keep)
and about 8 GB of RAM. Exit status 1 when an error exceeds --tolerance or an argmax differs.
"""
import argparse
import contextlib
import csv
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch
from transformers import RobertaTokenizer
from transformers.utils import logging as hf_logging

from Tools import ROOT, SHARED
from Tools.fixtures.models.audio import clip as audio_clip
from Tools.fixtures.models.video import clip as video_clip
from Tools.reference.checkpoints import (ASF, FUSION, LABELS, SPEAKER_TOKENS, AudioStudent, Teacher, VideoStudent,
                                         export, paper_configs, perturb, save_checkpoints)
COMPONENTS = ("text", "audio", "video", "fusion")
CORPORA = {"meld": os.path.join(SHARED, "data", "meld", "train_meld_emo.csv"),
           "iemocap": os.path.join(SHARED, "data", "iemocap", "IEMOCAP_train.csv")}
PAD = 1
RATE = 22050


# ---------------------------------------------------------------------------------------------
# The paper-size model

def build(outdir, dataset, tokenizer_dir, seed):
    """The four eval-mode modules at paper size, saved in the authors' layout; returns the
    checkpoint dict `export` takes (its "models" holds the modules)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    classes = len(LABELS[dataset])
    configs = paper_configs()
    text_cfg, audio_cfg, video_cfg = configs
    heads, beta = FUSION[dataset]
    models = {
        "teacher": Teacher(text_cfg, text_cfg.vocab_size + len(SPEAKER_TOKENS), 768, classes).eval(),
        "audio": AudioStudent(audio_cfg, classes).eval(),
        "video": VideoStudent(video_cfg, classes).eval(),
        "fusion": ASF(768, audio_cfg.hidden_size, video_cfg.hidden_size, heads, beta, classes).eval(),
    }
    # HF's init (normal 0.02, LayerNorm 1/0) moved a little so every tensor matters; small
    # enough that 12 or 24 random layers stay in a realistic range.
    for module in models.values():
        perturb(module, generator, scale=0.02)
    return save_checkpoints(outdir, models, configs, tokenizer_dir, dataset)


def fusion_order(telme_path):
    """The model's ASF order from the .telme JSON header (Schemas/telme-format.md)."""
    with open(telme_path, "rb") as f:
        preamble = f.read(64)
        (header_length,) = struct.unpack_from("<Q", preamble, 16)
        header = json.loads(f.read(header_length))

    def find(node):
        if isinstance(node, dict):
            if "fusion_order" in node:
                return node["fusion_order"]
            for value in node.values():
                found = find(value)
                if found is not None:
                    return found
        return None
    order = find(header)
    if order not in ("audio-video", "video-audio"):
        sys.exit(f"{telme_path}: header has no known fusion_order ({order!r})")
    return order


# ---------------------------------------------------------------------------------------------
# Inputs

def corpus_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def prompts(tokenizer, rows, across_dialogues):
    """Yields (dialogue id, token ids) per utterance in the reference's prompt format with plain
    per-dialogue speaker numbering; `across_dialogues` keeps the context running on across
    dialogue boundaries (MELD dialogues are too short for 512 tokens)."""
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
        yield dialogue, tokenizer(prompt, add_special_tokens=False)["input_ids"]


def prompts_of_length(tokenizer, rows, lengths, source):
    """One teacher input per wanted length: the context of the first utterance whose prompt has
    at least length - 1 tokens, cut to its last length - 1 tokens, then <mask>."""
    found = {}
    for across in (False, True):
        for _, ids in prompts(tokenizer, rows, across):
            for length in lengths:
                if length not in found and len(ids) >= length - 1:
                    found[length] = ids[-(length - 1):] + [tokenizer.mask_token_id]
            if len(found) == len(lengths):
                return [found[n] for n in lengths]
    sys.exit(f"{source}: no context reaches {[n for n in lengths if n not in found]} tokens")


def dialogue_prompts(tokenizer, rows, count, source):
    """The prompts of the first `count` utterances of the first dialogue that has that many,
    each ending in <mask> as the teacher input does."""
    current, dialogue = [], None
    for dia, ids in prompts(tokenizer, rows, False):
        if dia != dialogue:
            current, dialogue = [], dia
        current.append(ids[-511:] + [tokenizer.mask_token_id])
        if len(current) == count:
            return current
    sys.exit(f"{source}: no dialogue has {count} utterances")


def left_padded(sequences):
    length = max(len(s) for s in sequences)
    ids = np.full((len(sequences), length), PAD, np.int64)
    mask = np.zeros((len(sequences), length), np.int64)
    for i, s in enumerate(sequences):
        ids[i, length - len(s):] = s
        mask[i, length - len(s):] = 1
    return ids, mask


# ---------------------------------------------------------------------------------------------
# Running both sides

# Runs argv[1:] as its child and prints that child's wall time and peak RSS. A child's ru_maxrss
# starts from the RSS of the process it was forked from (Linux keeps the high-water mark across
# exec), so telme is started from this small process, not from the one holding the PyTorch models.
LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], close_fds=True)
_, status, usage = os.wait4(process.pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss * 1024, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_telme(cmd):
    """Runs `cmd`; returns (wall seconds, peak RSS in bytes) of that one process."""
    result = subprocess.run([sys.executable, "-S", "-c", LAUNCHER] + cmd, capture_output=True, text=True)
    *messages, last = result.stderr.strip().splitlines() or [""]
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{chr(10).join(messages)}".strip())
    seconds, rss = last.split()
    return float(seconds), int(rss)


def torch_outputs(models, inputs, order, semantics):
    """What `telme forward` writes for `inputs`, computed by the PyTorch modules; and the time."""
    out = {}
    start = time.perf_counter()
    with torch.no_grad():
        if "input_ids" in inputs:
            h, logits = models["teacher"](torch.from_numpy(inputs["input_ids"]),
                                          torch.from_numpy(inputs["attention_mask"]))
            out["text_hidden"], out["text_logits"] = h, logits
        if "audio" in inputs:
            out["audio_hidden"], out["audio_logits"] = models["audio"](torch.from_numpy(inputs["audio"]))
        if "video" in inputs:
            out["video_hidden"], out["video_logits"] = models["video"](torch.from_numpy(inputs["video"]))
        if semantics is not None:
            h_t, h_a, h_v = out["text_hidden"], out["audio_hidden"], out["video_hidden"]
            first, second = (h_a, h_v) if order == "audio-video" else (h_v, h_a)
            step = 1 if semantics == "independent" else 4
            fusion = models["fusion"]
            out["fusion_logits"] = torch.cat([fusion(h_t[i:i + step], first[i:i + step], second[i:i + step])
                                              for i in range(0, h_t.shape[0], step)])
    seconds = time.perf_counter() - start
    return {k: v.numpy() for k, v in out.items()}, seconds


def cases(args, tokenizer, rows, video_config):
    """(name, inputs, semantics or None, outputs to show) for the selected components."""
    rng = np.random.default_rng(args.seed)
    selected = set(args.components)
    result = []
    if "text" in selected:
        t128, t512, t37, t300 = prompts_of_length(tokenizer, rows, [128, 512, 37, 300], args.corpus)
        for name, seqs in (("text 1 x 128", [t128]), ("text 1 x 512", [t512]),
                           ("text padded 512/128/37/300", [t512, t128, t37, t300])):
            ids, mask = left_padded(seqs)
            result.append((name, {"input_ids": ids, "attention_mask": mask}, None, None))
    if "audio" in selected:
        short = int(round(3 * RATE))
        long = int(round(args.long_seconds * RATE))
        result.append(("audio 2 x 3 s", {"audio": np.stack([audio_clip(rng, short), audio_clip(rng, short)])},
                       None, None))
        result.append((f"audio 1 x {args.long_seconds:g} s", {"audio": audio_clip(rng, long)[None]}, None, None))
    if "video" in selected or "fusion" in selected:
        video = np.stack([video_clip(rng, video_config) for _ in range(4)])
        video[1] = 0  # the all-zero clip of the MELD > 30 s rule
        if "fusion" in selected:
            ids, mask = left_padded(dialogue_prompts(tokenizer, rows, 4, args.corpus))
            audio = np.stack([audio_clip(rng, int(round(3 * RATE))) for _ in range(4)])
            inputs = {"input_ids": ids, "attention_mask": mask, "audio": audio, "video": video}
            shown = ["video_hidden", "video_logits"] if "video" in selected else []
            result.append(("text+audio+video x 4", inputs, "independent", shown + ["fusion_logits"]))
            result.append(("text+audio+video x 4", inputs, "official-batch4", ["fusion_logits"]))
        else:
            result.append(("video 4 clips", {"video": video}, None, None))
    return result


# The telme runs compared with PyTorch, and their `telme forward` options.
VARIANTS = {
    "openblas": ["--backend", "openblas"],
    "onednn": ["--backend", "onednn"],
    "int8": ["--backend", "onednn", "--precision", "int8"],
}


def relative_errors(out, ref):
    """Per row (last axis): |out - ref| / |ref| (Euclidean norms) and the cosine similarity."""
    out = out.reshape(-1, out.shape[-1]).astype(np.float64)
    ref = ref.reshape(-1, ref.shape[-1]).astype(np.float64)
    norm = np.maximum(np.linalg.norm(ref, axis=1), 1e-30)
    rel = np.linalg.norm(out - ref, axis=1) / norm
    cosine = (out * ref).sum(1) / np.maximum(np.linalg.norm(out, axis=1) * norm, 1e-30)
    return rel, cosine


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--telme", default=os.path.join(ROOT, ".build", "release", "telme"),
                        help="the telme executable (a release build)")
    parser.add_argument("--components", default=",".join(COMPONENTS),
                        help="comma-separated subset of text,audio,video,fusion whose cases run (the model "
                             "is always the full one)")
    parser.add_argument("--dataset", default="meld", choices=sorted(LABELS))
    parser.add_argument("--tokenizer", default=os.path.join(SHARED, "tokenizers", "roberta"),
                        help="directory with the real RoBERTa vocab.json and merges.txt")
    parser.add_argument("--corpus", help="CSV the text prompts come from (default: the dataset's train CSV)")
    parser.add_argument("--keep", metavar="DIR", help="write checkpoints, export, .telme and cases here and keep them")
    parser.add_argument("--long-seconds", type=float, default=18.0, help="length of the long audio clip")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--variants", default="openblas,onednn",
                        help="telme runs compared with PyTorch: openblas and onednn (float32, held to --tolerance), "
                             "int8 (oneDNN, --precision int8: its relative error and cosine are reported)")
    args = parser.parse_args()
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not args.variants or not set(args.variants) <= set(VARIANTS):
        parser.error(f"--variants takes a subset of {','.join(VARIANTS)}")
    args.components = [c.strip() for c in args.components.split(",") if c.strip()]
    unknown = [c for c in args.components if c not in COMPONENTS]
    if unknown or not args.components:
        parser.error(f"--components takes a subset of {','.join(COMPONENTS)}, not {args.components}")
    args.corpus = args.corpus or CORPORA[args.dataset]
    for path, what in ((args.telme, "--telme"), (args.corpus, "--corpus"),
                       (os.path.join(args.tokenizer, "vocab.json"), "--tokenizer"),
                       (os.path.join(args.tokenizer, "merges.txt"), "--tokenizer")):
        if not os.path.isfile(path):
            sys.exit(f"{path}: not found ({what})")
    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()  # the tokenizer folder has no tokenizer_config.json

    tokenizer = RobertaTokenizer.from_pretrained(args.tokenizer)
    tokenizer.add_special_tokens({"additional_special_tokens": SPEAKER_TOKENS})
    rows = corpus_rows(args.corpus)

    with (contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory()) as work:
        os.makedirs(work, exist_ok=True)
        t0 = time.perf_counter()
        checkpoints = build(work, args.dataset, args.tokenizer, args.seed)
        models = checkpoints["models"]
        t1 = time.perf_counter()
        model_h5 = os.path.join(work, "model.h5")
        model_telme = os.path.join(work, "model.telme")
        export(checkpoints, model_h5)
        t2 = time.perf_counter()
        convert_time, convert_rss = run_telme([args.telme, "convert", model_h5, "-o", model_telme])
        file_bytes = os.path.getsize(model_telme)
        order = fusion_order(model_telme)
        params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
        heads, beta = FUSION[args.dataset]
        print(f"paper-size TelME ({args.dataset}, seed {args.seed}): teacher roberta-large "
              f"{params['teacher'] / 1e6:.1f} M, audio data2vec-audio-base {params['audio'] / 1e6:.1f} M, "
              f"video timesformer-base {params['video'] / 1e6:.1f} M, ASF {heads} heads beta {beta} "
              f"{params['fusion'] / 1e6:.1f} M parameters; fusion order {order}")
        print(f".telme {file_bytes / 2**20:.0f} MiB; build {t1 - t0:.0f} s, export {t2 - t1:.0f} s, "
              f"telme convert {convert_time:.0f} s (peak RSS {convert_rss / 2**20:.0f} MiB); "
              f"PyTorch {args.threads} threads; telme times are whole processes (map + check model, read, write)")

        table, failures = [], []
        for index, (name, inputs, semantics, shown) in enumerate(
                cases(args, tokenizer, rows, models["video"].model.config)):
            expected, torch_time = torch_outputs(models, inputs, order, semantics)
            in_h5 = os.path.join(work, f"case{index}-in.h5")
            out_h5 = os.path.join(work, f"case{index}-out.h5")
            with h5py.File(in_h5, "w") as f:
                for key, value in inputs.items():
                    f.create_dataset(key, data=value)
            for variant in args.variants:
                cmd = [args.telme, "forward", "--model", model_telme, "--inputs", in_h5, "-o", out_h5,
                       *VARIANTS[variant]]
                if semantics:
                    cmd += ["--batch-semantics", semantics]
                telme_time, rss = run_telme(cmd)
                with h5py.File(out_h5, "r") as f:
                    got = {k: f[k][()] for k in f.keys()}
                label = name + (f" ({semantics})" if semantics else "")
                first = True
                for key in shown or list(expected):
                    if key not in got:
                        failures.append(f"{label} {variant}: {key} missing")
                        continue
                    ref, out = expected[key], got[key]
                    if ref.shape != out.shape:
                        failures.append(f"{label} {variant}: {key} shape {out.shape} != {ref.shape}")
                        continue
                    error = float(np.abs(out - ref).max())
                    agree = "—"
                    if key.endswith("logits"):
                        same = np.array_equal(out.argmax(-1), ref.argmax(-1))
                        agree = f"{int((out.argmax(-1) == ref.argmax(-1)).sum())}/{ref.shape[0]}"
                        if not same and variant != "int8":
                            failures.append(f"{label} {variant}: {key} argmax differs")
                    if variant != "int8" and not error <= args.tolerance:
                        failures.append(f"{label} {variant}: {key} error {error:.3e}")
                    rel, cosine = relative_errors(out, ref)
                    table.append([label if first else "", variant if first else "", key, "x".join(map(str, ref.shape)),
                                  f"{error:.2e}", f"{rel.max():.2e}", f"{rel.mean():.2e}", f"{cosine.min():.6f}",
                                  agree, f"{torch_time:.2f}" if first else "", f"{telme_time:.2f}" if first else "",
                                  f"{rss / 2**20:.0f}" if first else "", f"{rss / file_bytes:.2f}" if first else ""])
                    first = False
            if not args.keep:
                os.remove(in_h5)
                os.remove(out_h5)

    header = ["case", "telme", "output", "shape", "max abs err", "max rel err", "mean rel err", "min cosine",
              "argmax", "PyTorch s", "telme s", "peak RSS MiB", "RSS/file"]
    widths = [max(len(str(r[i])) for r in [header] + table) for i in range(len(header))]
    for i, r in enumerate([header] + table):
        print("  ".join(str(c).ljust(w) if j < 4 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if failures:
        print("FAILED: " + "; ".join(failures))
        sys.exit(1)
    print(f"float32 runs ({', '.join(v for v in args.variants if v != 'int8') or 'none'}): all within "
          f"{args.tolerance:g}, every argmax agrees")


if __name__ == "__main__":
    main()
