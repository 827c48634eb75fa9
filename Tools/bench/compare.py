"""telme against PyTorch at the paper's sizes, in one run, on the same inputs and thread count.

    swift build -c release --product telme
    python -m Tools.bench.compare --telme .build/release/telme [--work DIR] [--threads 2]   (from the repository root)

Steps (everything reused from --work DIR when already there):
  model     a random-weight TelME model at the paper's sizes (roberta-large teacher,
            data2vec-audio-base, timesformer-base, MELD ASF): `Tools/reference/random_model.py
            paper` (or --h5 an existing export), converted with `telme convert` to f32
            (and bf16 for the bf16 variant; --f32 an existing conversion); the same weights saved
            as PyTorch state dicts (torch.save) for the PyTorch side.
  variants  the telme runs (--variants): openblas and onednn (f32 on each backend), int8
            (oneDNN, --precision int8), bf16 (the bf16 file); the first is the reference the
            others' labels are compared with.
  encoders  each encoder alone: RoBERTa at 128 and 512 tokens, data2vec-audio on 3 s (66150
            samples at 22050 Hz), TimeSformer on 1 x 8 x 3 x 224 x 224; --warmup runs, then the
            median of --repeat. PyTorch: the HF transformers 4.27.2 modules of
            Tools/reference/checkpoints.py, fp32, eval(), torch.inference_mode(),
            torch.set_num_threads(N). telme: `telme bench --threads N` of each variant, which
            also measures OpenBLAS's sgemm and oneDNN's packed matmul on every matrix shape of
            the encoders (the best of the two is "the best GEMM rate on its shapes"); both sides
            use the same deterministic inputs (formulas in Sources/TelmeCLI/Bench.swift).
  load      PyTorch: build the modules from their configs (HF's no_init_weights, as
            from_pretrained does) + torch.load + load_state_dict; telme: open (mmap + full
            validation, checksums included) + building the heads.
  first     time to first utterance: a whole process, from its start to the label of the first
            utterance of the corpus (real clip): Python imports + load + reference pipeline on
            one utterance, against `telme annotate` on a one-utterance corpus. Median of
            --startup-repeat.
  pipeline  the whole pipeline per utterance on real clips (Samples/corpus, 13 MELD-style mp4
            clips): the reference pipeline of Tools/reference/pipeline.py (librosa, OpenCV,
            VideoMAEImageProcessor, the modules; independent semantics) timed in process after
            loading, against `telme annotate` (same corpus, same converted weights); telme's
            per-utterance time is (wall(corpus) - wall(one utterance)) / (n - 1), its start-up
            removed like the Python side's. Median of --pipeline-repeat. Each variant's labels
            are compared with PyTorch's and with the first variant's.
  memory    peak resident memory of every process (VmHWM, or ru_maxrss of the child).

Prints one table (figures, telme/PyTorch speed-ups, GFLOP/s and fraction of the sgemm rate
measured on each encoder's own shapes) and writes everything as JSON (--json-out). Machine:
CPU model, cores, cpuid flags (avx2, avx512f, avx512_vnni, avx512_bf16, amx), the kernels of
OpenBLAS and oneDNN (`telme system`), PyTorch's BLAS, and
the load average before and after each step (the machine may be shared).
Needs about 8 GB of disk in the work folder and about 6 GB of RAM.
"""
import argparse
import contextlib
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from Tools import ROOT, SHARED

CASES = ("text128", "text512", "audio", "video")
# The telme runs of a benchmark: the model file each reads and its compute options. The first
# one chosen is the reference the others' labels are compared with.
VARIANTS = {
    "openblas": ("f32", ["--backend", "openblas"]),
    "onednn": ("f32", ["--backend", "onednn"]),
    "int8": ("f32", ["--backend", "onednn", "--precision", "int8"]),
    "bf16": ("bf16", ["--backend", "openblas"]),
}
PARTS = ("encoders", "first", "pipeline")

# Runs argv[1:] as its child and prints the child's wall time and peak RSS (ru_maxrss) on stderr.
# Started with `python -S` so that the high-water mark the child inherits across fork+exec is
# this small process's, not the benchmark's.
LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], close_fds=True)
_, status, usage = os.wait4(process.pid, 0)
print("LAUNCHER", time.perf_counter() - start, usage.ru_maxrss * 1024, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


# ---------------------------------------------------------------------------------------------
# Small helpers (the main process never imports torch, so its children start small)

def median(values):
    return statistics.median(values) if values else float("nan")


def peak_rss():
    """VmHWM of this process in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def launch(cmd, ok=(0,), stdout_path=None):
    """Runs `cmd` under LAUNCHER: returns (wall seconds, peak RSS bytes, stdout text)."""
    result = subprocess.run([sys.executable, "-S", "-c", LAUNCHER] + cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = result.stderr.strip().splitlines()
    last = lines[-1] if lines and lines[-1].startswith("LAUNCHER") else None
    if result.returncode not in ok or last is None:
        tail = "\n".join(lines[-15:])
        sys.exit(f"bench: {' '.join(cmd)} failed ({result.returncode}):\n{tail}")
    _, seconds, rss = last.split()
    if stdout_path:
        with open(stdout_path, "w") as f:
            f.write(result.stdout)
    return float(seconds), int(rss), result.stdout


def worker(kind, spec, work):
    """Runs this script as a worker process of `kind`; returns (its JSON result, wall, peak RSS)."""
    spec_path = os.path.join(work, f"spec-{kind}.json")
    out_path = os.path.join(work, f"result-{kind}.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    wall, rss, _ = launch([sys.executable, "-m", __spec__.name, "--worker", kind, spec_path, out_path])
    with open(out_path) as f:
        return json.load(f), wall, rss


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def machine():
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "flags") and key not in info:
                info[key] = value.strip()
    flags = set(info.get("flags", "").split())
    mem = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return {"cpu": info.get("model name", "unknown"), "logical_cores": os.cpu_count(), "memory_bytes": mem,
            "cpu_flags": {k: k in flags for k in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                                                   "amx_bf16", "amx_int8")},
            "kernel": os.uname().release}


# ---------------------------------------------------------------------------------------------
# Preparing the models

def fresh(path, *sources):
    return os.path.exists(path) and all(os.path.getmtime(path) >= os.path.getmtime(s) for s in sources)


def prepare(args, work):
    """The HDF5 export, the f32 and bf16 .telme files and the PyTorch state dicts."""
    h5 = args.h5 or os.path.join(work, "paper-meld.h5")
    if not os.path.exists(h5):
        print(f"building a paper-size model at {h5} (several minutes) ...", flush=True)
        subprocess.run([sys.executable, "-m", "Tools.reference.random_model", "paper", h5,
                        "--tokenizer", args.tokenizer], check=True)
    models = {}
    for dtype in dict.fromkeys(VARIANTS[v][0] for v in ["openblas"] + args.variants):
        path = args.f32 if dtype == "f32" and args.f32 else os.path.join(work, f"paper-meld-{dtype}.telme")
        if not fresh(path, h5):
            print(f"telme convert --dtype {dtype} -> {path}", flush=True)
            subprocess.run([args.telme, "convert", h5, "-o", path, "--dtype", dtype], check=True,
                           stdout=subprocess.DEVNULL)
        models[dtype] = path
    described = json.loads(subprocess.run([args.telme, "inspect", "--json", models["f32"]], check=True,
                                          stdout=subprocess.PIPE, text=True).stdout)
    torch_dir = os.path.join(work, "torch")
    stamp = os.path.join(torch_dir, "meta.json")
    if not fresh(stamp, h5):
        print(f"saving the same weights as PyTorch state dicts in {torch_dir}", flush=True)
        fusion = described["model"].get("fusion") or {}
        spec = {"h5": h5, "dir": torch_dir, "heads": fusion.get("num_heads", 1),
                "beta": fusion.get("beta_shift", 0.0)}
        worker("save-torch", spec, work)
    return h5, models, torch_dir, described


# ---------------------------------------------------------------------------------------------
# Workers (separate processes: each one's peak memory is its own)

def w_save_torch(spec):
    """The HDF5 export as PyTorch checkpoints: state dicts, HF configs, tokenizer, sizes."""
    import torch
    from Tools.reference.pipeline import ReferenceModel
    os.makedirs(spec["dir"], exist_ok=True)
    model = ReferenceModel(spec["h5"], spec["heads"], spec["beta"], spec["dir"])
    for name in ("teacher", "audio", "video", "fusion"):
        torch.save(getattr(model, name).state_dict(), os.path.join(spec["dir"], f"{name}.bin"))
    model.teacher.text_model.config.to_json_file(os.path.join(spec["dir"], "text_config.json"))
    model.audio.model.config.to_json_file(os.path.join(spec["dir"], "audio_config.json"))
    model.video.model.config.to_json_file(os.path.join(spec["dir"], "video_config.json"))
    meta = {"vocab_rows": model.teacher.text_model.embeddings.word_embeddings.num_embeddings,
            "projection_dim": model.teacher.W.out_features, "classes": model.teacher.classifier.out_features,
            "heads": spec["heads"], "beta": spec["beta"], "source": spec["h5"]}
    with open(os.path.join(spec["dir"], "meta.json"), "w") as f:
        json.dump(meta, f)
    return {}


def load_torch(directory):
    """The four modules from their configs and state dicts, as from_pretrained builds models
    (HF's own weight init skipped), in eval mode; and the tokenizer."""
    import torch
    from types import SimpleNamespace
    from transformers import Data2VecAudioConfig, RobertaConfig, TimesformerConfig
    from transformers.modeling_utils import no_init_weights
    from Tools.reference.checkpoints import ASF, AudioStudent, Teacher, VideoStudent
    from Tools.reference.teacher_input import telme_tokenizer
    with open(os.path.join(directory, "meta.json")) as f:
        meta = json.load(f)

    def path(name):
        return os.path.join(directory, name)
    text_cfg = RobertaConfig.from_json_file(path("text_config.json"))
    audio_cfg = Data2VecAudioConfig.from_json_file(path("audio_config.json"))
    video_cfg = TimesformerConfig.from_json_file(path("video_config.json"))
    with no_init_weights():
        modules = {
            "teacher": Teacher(text_cfg, meta["vocab_rows"], meta["projection_dim"], meta["classes"]),
            "audio": AudioStudent(audio_cfg, meta["classes"]),
            "video": VideoStudent(video_cfg, meta["classes"]),
            "fusion": ASF(meta["projection_dim"], audio_cfg.hidden_size, video_cfg.hidden_size, meta["heads"],
                          meta["beta"], meta["classes"]),
        }
    for name, module in modules.items():
        module.load_state_dict(torch.load(path(f"{name}.bin"), map_location="cpu", weights_only=True), strict=True)
        module.eval()
    return SimpleNamespace(video_config=video_cfg, tokenizer=telme_tokenizer(os.path.join(directory, "tokenizer")), **modules)


def inputs(case, model, audio_samples):
    """The synthetic input of a case: the formulas of Sources/TelmeCLI/Bench.swift."""
    import numpy as np
    import torch
    if case.startswith("text"):
        cfg = model.teacher.text_model.config
        count = min(int(case[4:]), cfg.max_position_embeddings - cfg.pad_token_id - 1)
        vocab = model.teacher.text_model.embeddings.word_embeddings.num_embeddings
        ids = 4 + (np.arange(count, dtype=np.int64) * 7919) % (vocab - 4)
        return (torch.from_numpy(ids[None]), torch.ones(1, count, dtype=torch.int64))
    if case == "audio":
        x = np.arange(audio_samples, dtype=np.float64)
        return (torch.from_numpy((0.5 * np.sin(0.0627 * x) + 0.25 * np.sin(0.00913 * x)).astype(np.float32)[None]),)
    c = model.video_config
    shape = (1, c.num_frames, c.num_channels, c.image_size, c.image_size)
    j = np.arange(int(np.prod(shape)), dtype=np.int64)
    return (torch.from_numpy((((j * 37) % 256) / 128 - 1).astype(np.float32).reshape(shape)),)


def timed(body, warmup, repeats):
    for _ in range(warmup):
        body()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return times


def w_torch_encoders(spec):
    start = time.perf_counter()
    import torch
    torch.set_num_threads(spec["threads"])
    imported = time.perf_counter()
    model = load_torch(spec["torch_dir"])
    loaded = time.perf_counter()
    modules = {"text128": model.teacher, "text512": model.teacher, "audio": model.audio, "video": model.video}
    result = {"import_seconds": imported - start, "load_seconds": loaded - imported, "encoders": {}, "matmul": [],
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "blas": next((line.strip(" -") for line in torch.__config__.show().splitlines()
                            if "Math Kernel Library" in line or "OpenBLAS" in line), "unknown")}
    with torch.inference_mode():
        for case in spec["cases"]:
            x = inputs(case, model, spec["audio_samples"])
            times = timed(lambda: modules[case](*x), spec["warmup"], spec["repeat"])
            result["encoders"][case] = {"times": times, "median_seconds": median(times),
                                        "input": list(x[0].shape)}
        # PyTorch's own matrix product on the main shapes, for comparison with OpenBLAS.
        for m, n, k in spec["matmul_shapes"]:
            a, b = torch.rand(m, k) * 2 - 1, torch.rand(n, k) * 2 - 1
            once = time.perf_counter()
            torch.matmul(a, b.t())
            single = max(time.perf_counter() - once, 1e-9)
            loops = max(1, int(0.05 / single))
            times = [t / loops for t in timed(lambda: [torch.matmul(a, b.t()) for _ in range(loops)], 1,
                                               spec["repeat"])]
            result["matmul"].append({"m": m, "n": n, "k": k, "seconds": median(times),
                                     "gflops": 2 * m * n * k / median(times) / 1e9})
    result["vm_hwm_bytes"] = peak_rss()
    return result


def w_torch_pipeline(spec):
    """The reference pipeline on the corpus: load, --warmup runs on the first utterance, then the
    whole corpus --repeat times (or, for `first`, one utterance once, right after loading)."""
    start = time.perf_counter()
    import torch
    torch.set_num_threads(spec["threads"])
    from Tools.reference.pipeline import Preprocessor, read_corpus, reference
    imported = time.perf_counter()
    model = load_torch(spec["torch_dir"])
    loaded = time.perf_counter()
    settings = spec["settings"]
    pre = Preprocessor(settings, model.video_config.image_size)
    layout, rows = read_corpus(spec["corpus"], "auto", spec["media"])

    def run(selected):
        with torch.inference_mode():
            results, _, _, split = reference(selected, layout, model, pre, settings, "independent")
        return results, split
    result = {"import_seconds": imported - start, "load_seconds": loaded - imported, "utterances": len(rows)}
    if spec.get("first"):
        results, _ = run(rows[:1])
        result["first_utterance_seconds"] = time.perf_counter() - start
    else:
        for _ in range(spec["warmup"]):
            run(rows[:1])
        runs = []
        for _ in range(spec["repeat"]):
            begin = time.perf_counter()
            results, split = run(rows)
            runs.append({"seconds": time.perf_counter() - begin, **split})
        result["runs"] = runs
        result["labels"] = [int(r["final"].argmax()) for r in results]
    result["vm_hwm_bytes"] = peak_rss()
    return result


WORKERS = {"save-torch": w_save_torch, "torch-encoders": w_torch_encoders, "torch-pipeline": w_torch_pipeline}


# ---------------------------------------------------------------------------------------------
# The telme side

def telme_bench(args, models, work, name):
    out = os.path.join(work, f"telme-bench-{name}.json")
    dtype, options = VARIANTS[name]
    cmd = [args.telme, "bench", "--model", models[dtype], "--threads", str(args.threads), "--repeat",
           str(args.repeat), "--warmup", str(args.warmup), "--cases", ",".join(args.cases), "--json-out", out, *options]
    wall, rss, stdout = launch(cmd, stdout_path=os.path.join(work, f"telme-bench-{name}.txt"))
    with open(out) as f:
        report = json.load(f)
    report["process"] = {"wall_seconds": wall, "max_rss_bytes": rss}
    return report


def telme_annotate(args, models, name, corpus, out):
    shutil.rmtree(out, ignore_errors=True)
    dtype, options = VARIANTS[name]
    cmd = [args.telme, "annotate", "--model", models[dtype], "--corpus", corpus, "--media", args.media,
           "--threads", str(args.threads), "--out", out, *options]
    wall, rss, _ = launch(cmd, ok=(0, 1))
    with open(os.path.join(out, "annotations.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(out, "run.json")) as f:
        seconds = json.load(f)["seconds"]
    return {"wall_seconds": wall, "run_json_seconds": seconds, "max_rss_bytes": rss, "records": records}


def label_differences(f32, other, names):
    """The largest probability difference, each modality's label agreement, and the reference's
    margin (top-1 minus top-2 probability) of every utterance whose final label differs."""
    dp, flips = 0.0, []
    agree = {m: 0 for m in ("text_label", "audio_label", "video_label")}
    for a, b in zip(f32, other):
        dp = max(dp, max(abs(a[f"p_{n}"] - b[f"p_{n}"]) for n in names))
        for m in agree:
            agree[m] += a[m] == b[m]
        if a["label"] != b["label"]:
            top = sorted((a[f"p_{n}"] for n in names), reverse=True)
            flips.append({"dialogue": a["dialogue"], "utterance": a["utterance"], "f32_margin": top[0] - top[1]})
    return {"max_abs_dp": dp, "modality_agreement": agree, "flips": flips}


def first_row_corpus(corpus, out):
    with open(corpus, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    with open(out, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows[:2])
    return len(rows) - 1


# ---------------------------------------------------------------------------------------------
# Report

def ratio(torch_value, telme_value):
    """PyTorch time / telme time: how many times faster telme is."""
    if not torch_value or not telme_value:
        return None
    return torch_value / telme_value


def table(results, variants):
    rows = []
    enc = results.get("encoders")
    mib = 2 ** 20

    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    def add(name, unit, torch_value, values, spec=".3f", speedup=True):
        row = [name, unit, fmt(torch_value, spec)]
        for v in values:
            row.append(fmt(v, spec))
            r = ratio(torch_value, v) if speedup else None
            row.append(fmt(r, ".2f") + "x" if r else "")
        rows.append(row)

    def each(section, get):
        out = []
        for v in variants:
            item = section.get(f"telme_{v}")
            out.append(get(item) if item is not None else None)
        return out
    if enc:
        tt = enc["torch"]
        sq = next((m for m in tt["matmul"] if m["m"] == m["n"] == m["k"]), None)
        ref = enc[f"telme_{variants[0]}"]
        add(f"GEMM {ref['sgemm'][0]['m']}^3 (telme: best of OpenBLAS, oneDNN; PyTorch: its BLAS)", "GFLOP/s",
            sq and sq["gflops"], each(enc, lambda t: t["square_gflops"]), ".1f", speedup=False)
        for e in ref["encoders"]:
            name = e["name"]
            label = {"text128": "RoBERTa-large 1 x 128 tokens", "text512": "RoBERTa-large 1 x 512 tokens",
                     "audio": f"data2vec-audio {e['input'][1] / 22050:.0f} s ({e['input'][1]} samples)",
                     "video": "TimeSformer 1 x 8 x 3 x 224 x 224"}[name]
            torch_s = tt["encoders"][name]["median_seconds"]

            def of(t, key):
                return next((x[key] for x in t["encoders"] if x["name"] == name), None)
            add(f"{label} ({e['flops'] / 1e9:.1f} GFLOP)", "s", torch_s, each(enc, lambda t: of(t, "median_seconds")))
            add("  spread (min - max of the timed runs)", "s", None,
                each(enc, lambda t: max(of(t, "times")) - min(of(t, "times"))), speedup=False)
            add("  GFLOP/s (int8: GOP/s)", "GFLOP/s", e["flops"] / torch_s / 1e9, each(enc, lambda t: of(t, "gflops")),
                ".1f", speedup=False)
            add(f"  fraction of the best GEMM rate on its shapes ({e['sgemm_gflops_on_shapes']:.0f} GFLOP/s)", "",
                e["flops"] / torch_s / 1e9 / e["sgemm_gflops_on_shapes"], each(enc, lambda t: of(t, "sgemm_fraction")),
                ".2f", speedup=False)
        add("model load (PyTorch: build + torch.load; telme: open + build)", "s", tt["load_seconds"],
            each(enc, lambda t: t["model"]["open_seconds"] + t["model"]["build_seconds"]))
        add("peak RSS, encoders process", "MiB", tt["vm_hwm_bytes"] / mib,
            each(enc, lambda t: t["memory"]["vm_hwm_bytes"] / mib), ".0f", speedup=False)
    first = results.get("first")
    if first:
        add("time to first utterance (whole process, real clip)", "s", first["torch"]["median_seconds"],
            each(first, lambda t: t["median_seconds"]))
    pipe = results.get("pipeline")
    if pipe:
        add(f"pipeline per utterance ({pipe['utterances']} real clips, steady)", "s",
            pipe["torch"]["per_utterance_seconds"], each(pipe, lambda t: t["per_utterance_seconds"]))
        add("  whole corpus, whole process (start, load, all clips)", "s", pipe["torch"].get("process_seconds"),
            each(pipe, lambda t: t["wall_seconds"]))
        add("peak RSS, pipeline process", "MiB", pipe["torch"]["vm_hwm_bytes"] / mib,
            each(pipe, lambda t: t["max_rss_bytes"] / mib), ".0f", speedup=False)
        row = ["labels = PyTorch reference labels", "", ""]
        for v in variants:
            a = pipe.get("label_agreement_torch", {}).get(v)
            row += [f"{a[0]}/{a[1]}" if a else "-", ""]
        rows.append(row)
        row = [f"max |dp| against telme {variants[0]}; its margins where labels differ", "", ""]
        for v in variants:
            d = pipe.get("differences", {}).get(v)
            row += [f"{d['max_abs_dp']:.2e}; " + (", ".join(f"{f['f32_margin']:.4f}" for f in d["flips"]) or "-")
                    if d else "-", ""]
        rows.append(row)
    header = ["figure", "unit", "PyTorch fp32"]
    for v in variants:
        header += [f"telme {v}", "speed-up"]
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = []
    for i, r in enumerate([header] + rows):
        lines.append("  ".join(str(c).ljust(w) if j < 2 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Main

def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        with open(sys.argv[3]) as f:
            spec = json.load(f)
        result = WORKERS[sys.argv[2]](spec)
        with open(sys.argv[4], "w") as f:
            json.dump(result, f)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--telme", default=os.path.join(ROOT, ".build", "release", "telme"),
                        help="the telme executable (a release build)")
    parser.add_argument("--work", help="folder for the models and outputs, kept and reused (default: a temporary one)")
    parser.add_argument("--h5", help="an existing paper-size HDF5 export (python -m Tools.reference.random_model paper)")
    parser.add_argument("--f32", help="an existing f32 conversion of --h5")
    parser.add_argument("--tokenizer", default=os.path.join(SHARED, "tokenizers", "roberta"))
    parser.add_argument("--corpus", default=os.path.join(ROOT, "Samples", "corpus", "sample.csv"))
    parser.add_argument("--media", default=os.path.join(ROOT, "Samples", "corpus", "clips"))
    parser.add_argument("--threads", type=int, default=2, help="threads of both sides")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per encoder figure")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before them")
    parser.add_argument("--startup-repeat", type=int, default=3, help="processes per time-to-first-utterance figure")
    parser.add_argument("--pipeline-repeat", type=int, default=3, help="timed runs over the corpus per side")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--cases", default=",".join(CASES), help=f"encoder cases, subset of {','.join(CASES)}")
    parser.add_argument("--variants", default="openblas,onednn,int8",
                        help=f"telme runs, subset of {','.join(VARIANTS)} (bf16: the bf16 file on OpenBLAS)")
    parser.add_argument("--json-out", help="write every figure as JSON here")
    args = parser.parse_args()
    args.parts = [p for p in args.parts.split(",") if p]
    args.cases = [c for c in args.cases.split(",") if c]
    args.variants = [v for v in args.variants.split(",") if v]
    if not args.variants or not set(args.variants) <= set(VARIANTS):
        parser.error(f"--variants takes a subset of {','.join(VARIANTS)}")
    if not set(args.parts) <= set(PARTS) or not set(args.cases) <= set(CASES):
        parser.error("unknown --parts or --cases")
    for path, what in ((args.telme, "--telme"), (args.corpus, "--corpus")):
        if not os.path.exists(path):
            sys.exit(f"bench: {path}: not found ({what})")

    with (contextlib.nullcontext(args.work) if args.work else tempfile.TemporaryDirectory(prefix="telme-bench-")) as work:
        os.makedirs(work, exist_ok=True)
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True).stdout.strip()
        results = {"machine": machine(), "telme": {"binary": os.path.abspath(args.telme), "commit": commit},
                   "threads": args.threads, "repeat": args.repeat, "warmup": args.warmup,
                   "load_average": {"start": loadavg()}}
        h5, models, torch_dir, described = prepare(args, work)
        results["model"] = {"h5": h5, "files": {k: {"path": v, "bytes": os.path.getsize(v)} for k, v in models.items()},
                            "torch_state_dict_bytes": sum(os.path.getsize(os.path.join(torch_dir, f"{n}.bin"))
                                                          for n in ("teacher", "audio", "video", "fusion"))}
        settings = described["model"]["settings"]
        base = {"threads": args.threads, "torch_dir": torch_dir}

        if "encoders" in args.parts:
            print("encoders ...", flush=True)
            enc = {}
            for name in args.variants:
                enc[f"telme_{name}"] = telme_bench(args, models, work, name)
                results["load_average"][f"after telme bench {name}"] = loadavg()
            reference = enc[f"telme_{args.variants[0]}"]
            shapes = [[s["m"], s["n"], s["k"]] for s in reference["sgemm"][:1]]
            for e in reference["encoders"]:  # the products carrying at least 5 % of the FLOPs
                shapes += [[p["m"], p["n"], p["k"]] for p in e["products"]
                           if p["flops"] >= 0.05 * e["flops"] and p["transpose_b"]]
            spec = dict(base, cases=args.cases, repeat=args.repeat, warmup=args.warmup,
                        audio_samples=66150, matmul_shapes=[list(s) for s in dict.fromkeys(map(tuple, shapes))])
            enc["torch"], wall, rss = worker("torch-encoders", spec, work)
            enc["torch"]["process"] = {"wall_seconds": wall, "max_rss_bytes": rss}
            results["load_average"]["after torch encoders"] = loadavg()
            results["machine"]["platform"] = reference["machine"]["platform"]
            results["machine"]["torch"] = enc["torch"]["torch"]
            results["machine"]["torch_blas"] = enc["torch"]["blas"]
            results["encoders"] = enc

        total = first_row_corpus(args.corpus, os.path.join(work, "first.csv"))
        single = {}
        if "first" in args.parts or "pipeline" in args.parts:
            print("time to first utterance ...", flush=True)
            first = {}
            spec = dict(base, corpus=os.path.join(work, "first.csv"), media=args.media, settings=settings, first=True)
            runs = [worker("torch-pipeline", spec, work) for _ in range(args.startup_repeat)]
            first["torch"] = {"runs": [dict(r[0], wall_seconds=r[1], max_rss_bytes=r[2]) for r in runs],
                              "median_seconds": median([r[1] for r in runs])}
            for name in args.variants:
                runs = [telme_annotate(args, models, name, os.path.join(work, "first.csv"),
                                       os.path.join(work, f"first-{name}")) for _ in range(args.startup_repeat)]
                single[name] = median([r["wall_seconds"] for r in runs])
                first[f"telme_{name}"] = {"runs": [{k: v for k, v in r.items() if k != "records"} for r in runs],
                                          "median_seconds": single[name]}
            results["load_average"]["after first utterance"] = loadavg()
            results["first"] = first

        if "pipeline" in args.parts:
            print("pipeline ...", flush=True)
            pipe = {"utterances": total}
            spec = dict(base, corpus=args.corpus, media=args.media, settings=settings, repeat=args.pipeline_repeat,
                        warmup=1)
            r, wall, rss = worker("torch-pipeline", spec, work)
            r["per_utterance_seconds"] = median([run["seconds"] for run in r["runs"]]) / total
            r["process_seconds"] = r["import_seconds"] + r["load_seconds"] + r["runs"][0]["seconds"]
            r["wall_seconds"], r["max_rss_bytes"] = wall, rss
            pipe["torch"] = r
            results["load_average"]["after torch pipeline"] = loadavg()
            labels, records = {}, {}
            for name in args.variants:
                runs = [telme_annotate(args, models, name, args.corpus, os.path.join(work, f"annotate-{name}"))
                        for _ in range(args.pipeline_repeat)]
                wall = median([x["wall_seconds"] for x in runs])
                pipe[f"telme_{name}"] = {
                    "runs": [{k: v for k, v in x.items() if k != "records"} for x in runs], "wall_seconds": wall,
                    "per_utterance_seconds": (wall - single[name]) / (total - 1) if total > 1 else wall,
                    "max_rss_bytes": max(x["max_rss_bytes"] for x in runs)}
                labels[name] = [x["label"] for x in runs[-1]["records"]]
                records[name] = runs[-1]["records"]
                results["load_average"][f"after telme annotate {name}"] = loadavg()
            names = described["labels"]
            torch_labels = [names[i] for i in pipe["torch"]["labels"]]
            pipe["label_agreement_torch"] = {v: [sum(a == b for a, b in zip(labels[v], torch_labels)),
                                                 len(torch_labels)] for v in args.variants}
            pipe["differences"] = {v: label_differences(records[args.variants[0]], records[v], names)
                                   for v in args.variants}
            results["pipeline"] = pipe

        results["load_average"]["end"] = loadavg()
        m = results["machine"]
        flags = " ".join(k for k, v in m["cpu_flags"].items() if v)
        print(f"\n{m['cpu']}, {m['logical_cores']} logical cores, {(m['memory_bytes'] or 0) / 2**30:.0f} GiB; {flags}")
        p = m.get("platform")
        if p:
            print(f"OpenBLAS {p['openblas']['version']} ({p['openblas']['kernels']}), oneDNN {p['onednn']['version']} "
                  f"({p['onednn']['kernels']}), auto: {p['auto_backend']}")
        print(f"PyTorch {m.get('torch', '?')} ({m.get('torch_blas', '?')}); "
              f"{args.threads} threads each side; median of {args.repeat} after {args.warmup} warm-up")
        print("load average (1, 5, 15 min): " + "; ".join(f"{k} {v[0]:.1f} {v[1]:.1f} {v[2]:.1f}"
                                                         for k, v in results["load_average"].items()))
        print(table(results, args.variants))
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(results, f, indent=1)
            print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
