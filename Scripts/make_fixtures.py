#!/usr/bin/env python3
"""Regenerates the committed model-parity fixtures (Tests/TelmeModelsTests/Fixtures).

For each dataset it builds tiny random checkpoints in the authors' layout
(telme_fixtures/checkpoints.py), passes them through the REAL exporter into
`tiny-<dataset>/model.h5`, and then lets every `telme_fixtures/fx_*.py` module write its
inputs and PyTorch outputs next to it: each module has `make(ctx)` where `ctx` is a
`FixtureContext`. Run with the project's venv: `python3 Scripts/make_fixtures.py`.
"""
import argparse
import importlib
import os
import pkgutil
import sys
import tempfile
from dataclasses import dataclass

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import telme_fixtures  # noqa: E402
from telme_fixtures.checkpoints import build_checkpoints, export  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "Tests", "TelmeModelsTests", "Fixtures")


@dataclass
class FixtureContext:
    dataset: str           # "meld" or "iemocap"
    outdir: str            # Fixtures/tiny-<dataset>/ (model.h5 is already there)
    model_h5: str
    models: dict           # "teacher", "audio", "video", "fusion": eval-mode torch modules
    checkpoints: dict      # paths from build_checkpoints


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--only", help="run only this fx_ module (e.g. fx_text)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    modules = sorted(m.name for m in pkgutil.iter_modules(telme_fixtures.__path__) if m.name.startswith("fx_"))
    if args.only:
        modules = [m for m in modules if m == args.only]
    for dataset, seed in (("meld", 1), ("iemocap", 2)):
        outdir = os.path.join(args.out, f"tiny-{dataset}")
        os.makedirs(outdir, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            checkpoints = build_checkpoints(tmp, dataset, seed)
            model_h5 = os.path.join(outdir, "model.h5")
            export(checkpoints, model_h5)
            ctx = FixtureContext(dataset, outdir, model_h5, checkpoints["models"], checkpoints["paths"])
            for name in modules:
                print(f"{dataset}: {name}")
                torch.manual_seed(seed)
                importlib.import_module(f"telme_fixtures.{name}").make(ctx)


if __name__ == "__main__":
    main()
