#!/usr/bin/env python3
"""Seed corpora of the fuzz targets (Tests/TelmeFuzzTests/Fixtures/fuzz/<target>/seed-*).

Seeds are small real inputs that every reader must accept (the replay test checks it):
- export: the declared structure of real HDF5 exports (test fixtures), in the text form
  TelmeFuzz's DeclaredExport decodes (one declaration a line; blobs length-prefixed);
- telme: the same exports converted by `telme convert` (f32 and bf16);
- srt, vtt, transcript-csv, corpus-csv: the committed transcript and corpus fixtures.

Usage: python3 Scripts/make_fuzz_seeds.py --telme .build/debug/telme
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import tempfile

import h5py
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/TelmeFuzzTests/Fixtures/fuzz"
EXPORTS = ROOT / "Tests/TelmeImportTests/Fixtures/export"

TYPES = {np.dtype("float16"): "float16", np.dtype("float32"): "float32", np.dtype("float64"): "float64",
         np.dtype("int32"): "int32", np.dtype("int64"): "int64", np.dtype("uint8"): "uint8"}


def declared(path: pathlib.Path) -> bytes:
    out = bytearray()

    def attrs(name: str, obj) -> None:
        for key, value in sorted(obj.attrs.items()):
            if isinstance(value, (bytes, str)):
                text = value.decode() if isinstance(value, bytes) else value
                if "\n" in text:  # config.json text: one line, same JSON
                    text = json.dumps(json.loads(text), separators=(",", ":"))
                out.extend(f"attr {name} {key} s {text}\n".encode())
            else:
                out.extend(f"attr {name} {key} i {int(value)}\n".encode())

    with h5py.File(path, "r") as f:
        attrs("/", f)

        def visit(name: str, obj) -> None:
            full = "/" + name
            if isinstance(obj, h5py.Group):
                out.extend(f"group {full}\n".encode())
            elif obj.dtype == np.uint8 and obj.ndim == 1:
                data = obj[()].tobytes()
                out.extend(f"blob {full} {len(data)}\n".encode() + data + b"\n")
            else:
                dims = " ".join(str(d) for d in obj.shape)
                out.extend(f"dataset {full} {TYPES[obj.dtype]} {dims}\n".encode())
            attrs(full, obj)

        f.visititems(visit)
    return bytes(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--telme", required=True, help="a built telme executable (for the .telme seeds)")
    args = parser.parse_args()
    for target in ["telme", "export", "srt", "vtt", "transcript-csv", "corpus-csv"]:
        (OUT / target).mkdir(parents=True, exist_ok=True)
        for old in (OUT / target).glob("seed-*"):
            old.unlink()

    for name in ["meld-teacher", "meld-all"]:
        (OUT / "export" / f"seed-{name}.txt").write_bytes(declared(EXPORTS / f"{name}.h5"))
    # The importer tests' hostile exports that h5py can read: inputs the importer refuses.
    for old in (OUT / "export").glob("hostile-*"):
        old.unlink()
    for path in sorted((EXPORTS.parent / "hostile").glob("*.h5")):
        try:
            text = declared(path)
        except (OSError, KeyError):  # not HDF5, truncated, or a type the text form has no name for
            continue
        (OUT / "export" / f"hostile-{path.stem}.txt").write_bytes(text)
    with tempfile.TemporaryDirectory() as tmp:
        for name, dtype in [("meld-teacher", "f32"), ("meld-teacher-audio", "bf16")]:
            target = pathlib.Path(tmp) / f"{name}.telme"
            subprocess.run([args.telme, "convert", str(EXPORTS / f"{name}.h5"), "-o", str(target), "--dtype", dtype],
                           check=True, stdout=subprocess.DEVNULL)
            shutil.copy(target, OUT / "telme" / f"seed-{name}-{dtype}.telme")

    transcripts = ROOT / "Tests/TelmePipelineTests/Fixtures/transcripts"
    episodes = ROOT / "Tests/TelmeCLITests/Fixtures/episodes"
    copies = {
        "srt": [transcripts / "quirks.srt", episodes / "ep01.srt"],
        "vtt": [transcripts / "voices.vtt", episodes / "ep02.vtt"],
        "transcript-csv": [transcripts / "dialogues.csv", transcripts / "rows.csv"],
        "corpus-csv": [ROOT / "Tests/TelmeCLITests/Fixtures/corpus.csv",
                       ROOT / "Tests/TelmeCLITests/Fixtures/iemocap/IEMOCAP_test.csv"],
    }
    for target, files in copies.items():
        for source in files:
            shutil.copy(source, OUT / target / f"seed-{source.parent.name}-{source.name}")


if __name__ == "__main__":
    main()
