#!/usr/bin/env python3
"""Regenerates the import fixtures (Tests/TelmeImportTests/Fixtures).

* `export/<dataset>-<parts>.h5`: micro random checkpoints with the authors' state-dict names
  (the modules of telme_fixtures/checkpoints.py, with smaller widths so the files stay small)
  passed through the REAL exporter, Scripts/export_hdf5.py, for teacher-only, teacher+audio
  and all four components, for MELD and IEMOCAP.
* `hostile/*.h5`: copies of a valid export broken in one way each with h5py (plus a non-HDF5
  file and a truncated one), for the refusal tests.
* `hdf5/types.h5`: known values in every element type and attribute form TelmeHDF5 reads.

Run with the project's venv: `/work/venv/bin/python Scripts/make_import_fixtures.py`.
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from telme_fixtures.checkpoints import build_checkpoints, export  # noqa: E402
from transformers import Data2VecAudioConfig, RobertaConfig, TimesformerConfig  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TelmeImportTests", "Fixtures")
PARTS = {"teacher": ("teacher",), "teacher-audio": ("teacher", "audio"),
         "all": ("teacher", "audio", "video", "fusion")}


def micro_configs(vocab_size, text_width=8, text_layers=2):
    """Smaller than telme_fixtures' tiny configs; every width differs, audio + video = 36 so
    that both 3 (MELD) and 4 (IEMOCAP) fusion heads divide it."""
    text = RobertaConfig(vocab_size=vocab_size, hidden_size=text_width, num_hidden_layers=text_layers,
                         num_attention_heads=2, intermediate_size=12, max_position_embeddings=514, type_vocab_size=1,
                         layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    audio = Data2VecAudioConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
                                conv_dim=[8, 8, 8, 8, 8, 8, 12], conv_kernel=[10, 3, 3, 3, 3, 2, 2],
                                conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=True, num_conv_pos_embeddings=5,
                                conv_pos_kernel_size=19, num_conv_pos_embedding_groups=4, layer_norm_eps=1e-5)
    video = TimesformerConfig(image_size=16, patch_size=8, num_channels=3, num_frames=8, hidden_size=20,
                              num_hidden_layers=1, num_attention_heads=2, intermediate_size=28,
                              layer_norm_eps=1e-6, qkv_bias=True, attention_type="divided_space_time")
    return text, audio, video


def micro_checkpoints(outdir, dataset, seed, **widths):
    """Checkpoints in the authors' file layout from `micro_configs(**widths)`."""
    return build_checkpoints(outdir, dataset, seed, configs_for=lambda size: micro_configs(size, **widths),
                             projection_dim=12)


def edited(source, target, edit):
    """Writes `source` with `edit(h5py.File)` applied to `target`, repacked so that deleted
    data takes no space."""
    scratch = target + ".tmp"
    shutil.copyfile(source, scratch)
    with h5py.File(scratch, "r+") as f:
        edit(f)
    with h5py.File(scratch, "r") as src, h5py.File(target, "w", libver=("earliest", "v108")) as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for name in src:
            src.copy(src[name], dst, name=name)
    os.remove(scratch)


def replace(group, name, data):
    del group[name]
    group.create_dataset(name, data=data)


def set_config(f, component, **changes):
    config = json.loads(f[component].attrs["config"])
    config.update(changes)
    f[component].attrs["config"] = json.dumps(config)


def make_hostile(teacher_h5, outdir):
    """Each file is the micro teacher-only export broken in one way."""
    os.makedirs(outdir, exist_ok=True)
    path = lambda name: os.path.join(outdir, name)  # noqa: E731

    with open(path("not-hdf5.h5"), "w") as f:
        f.write("this is a text file, not HDF5\n" * 4)
    with open(teacher_h5, "rb") as f:
        data = f.read()
    with open(path("truncated.h5"), "wb") as f:
        f.write(data[: len(data) // 2])
    with h5py.File(path("not-export.h5"), "w") as f:
        f.create_dataset("input_ids", data=np.arange(6, dtype=np.int64).reshape(2, 3))

    layer = "text_model.encoder.layer.0.output.dense.weight"
    edited(teacher_h5, path("missing-tensor.h5"), lambda f: f["teacher"].__delitem__(layer))
    edited(teacher_h5, path("extra-tensor.h5"),
           lambda f: f["teacher"].create_dataset("extra.weight", data=np.ones((3, 4), np.float32)))
    edited(teacher_h5, path("wrong-shape.h5"),
           lambda f: replace(f["teacher"], "W.weight", np.zeros((12, 5), np.float32)))
    edited(teacher_h5, path("string-dtype.h5"),
           lambda f: replace(f["teacher"], "classifier.bias", np.array([b"x"] * 7)))
    edited(teacher_h5, path("int-dtype.h5"),
           lambda f: replace(f["teacher"], "W.bias", np.arange(12, dtype=np.int64)))
    edited(teacher_h5, path("missing-config.h5"), lambda f: f["teacher"].attrs.__delitem__("config"))
    edited(teacher_h5, path("relu.h5"), lambda f: set_config(f, "teacher", hidden_act="relu"))
    edited(teacher_h5, path("missing-field.h5"), lambda f: set_config(f, "teacher", hidden_size=None))

    def five_classes(f):
        replace(f["teacher"], "classifier.weight", np.zeros((5, 12), np.float32))
        replace(f["teacher"], "classifier.bias", np.zeros(5, np.float32))
    edited(teacher_h5, path("class-count.h5"), five_classes)

    def nan_weight(f):
        w = f["teacher/W.weight"][...]
        w[3, 2] = np.nan
        replace(f["teacher"], "W.weight", w)
    edited(teacher_h5, path("nan-weight.h5"), nan_weight)

    def inf_weight(f):
        b = f["teacher/text_model.embeddings.LayerNorm.bias"][...]
        b[2] = -np.inf
        replace(f["teacher"], "text_model.embeddings.LayerNorm.bias", b)
    edited(teacher_h5, path("inf-weight.h5"), inf_weight)

    def large_weight(f):
        w = f["teacher/W.weight"][...]
        w[0, 1] = 70000.0  # fits float32 and bfloat16, not float16
        replace(f["teacher"], "W.weight", w)
    edited(teacher_h5, path("large-weight.h5"), large_weight)

    def other_widths(f):
        # float16 and float64 weights: the importer widens/rounds them to float32.
        replace(f["teacher"], "W.weight", f["teacher/W.weight"][...].astype(np.float16))
        replace(f["teacher"], "classifier.weight", f["teacher/classifier.weight"][...].astype(np.float64))
    edited(teacher_h5, path("f16-f64-weights.h5"), other_widths)

    edited(teacher_h5, path("vocab-rows.h5"),
           lambda f: replace(f["teacher"], "text_model.embeddings.word_embeddings.weight",
                             f["teacher/text_model.embeddings.word_embeddings.weight"][:-1]))
    edited(teacher_h5, path("bad-version.h5"), lambda f: f.attrs.__setitem__("format_version", np.int64(2)))
    edited(teacher_h5, path("unknown-dataset.h5"), lambda f: f.attrs.__setitem__("dataset", "friends"))
    edited(teacher_h5, path("fusion-without-students.h5"),
           lambda f: f.create_group("fusion").create_dataset("W.bias", data=np.zeros(7, np.float32)))


def make_types(target):
    """Every element type and attribute form TelmeHDF5 reads, with known values."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with h5py.File(target, "w", libver=("earliest", "v108")) as f:
        f.create_dataset("f32", data=np.array([[1.5, -2.25, 3.0], [0.0, 1e-8, -7.0]], np.float32))
        f.create_dataset("f16", data=np.array([1.0, -0.5, 65504.0, 6e-8, np.inf, -np.inf, np.nan, 0.0], np.float16))
        f.create_dataset("f64", data=np.array([0.1, 1e300, -2.0], np.float64))
        f.create_dataset("f32be", data=np.array([1.25, -3.5], np.dtype(">f4")))
        f.create_dataset("i64", data=np.array([[-(2**40), 1], [2, 3]], np.int64))
        f.create_dataset("i32", data=np.array([-5, 7, 2**31 - 1], np.int32))
        f.create_dataset("u8", data=np.frombuffer(b"hello", np.uint8))
        f.create_dataset("i16", data=np.array([1, 2], np.int16))
        f.create_dataset("strings", data=np.array([b"a", b"bc"]))
        f.create_dataset("bools", data=np.array([True, False]))
        f.create_dataset("scalar", data=np.float32(4.5))
        f.create_dataset("empty", data=np.zeros((0, 3), np.float32))
        f.create_dataset("cube", data=np.arange(24, dtype=np.float32).reshape(2, 3, 4))
        f.create_dataset("unwritten", shape=(4,), dtype=np.float32)
        f.create_dataset("group/nested", data=np.array([9.0], np.float32))
        f["soft"] = h5py.SoftLink("/f32")
        f.attrs["vlen"] = "variable length ünïcode"
        f.attrs["fixed"] = np.bytes_(b"fixed ascii")
        f.attrs["number"] = np.int64(42)
        f.attrs["float"] = np.float64(0.5)
        f.attrs["array"] = np.array([1, 2, 3])
        f.attrs["latin1"] = np.bytes_(b"caf\xe9")
        f["f32"].attrs["unit"] = "meters"


def main():
    torch.set_num_threads(2)
    export_dir = os.path.join(OUT, "export")
    os.makedirs(export_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, seed in (("meld", 11), ("iemocap", 12)):
            checkpoints = micro_checkpoints(os.path.join(tmp, dataset), dataset, seed)
            for name, components in PARTS.items():
                target = os.path.join(export_dir, f"{dataset}-{name}.h5")
                export(checkpoints, target, components)
        # The hostile files copy an even smaller teacher (width 4, one layer).
        checkpoints = micro_checkpoints(os.path.join(tmp, "hostile"), "meld", 13, text_width=4, text_layers=1)
        base = os.path.join(tmp, "hostile-base.h5")
        export(checkpoints, base, ("teacher",))
        make_hostile(base, os.path.join(OUT, "hostile"))
    make_types(os.path.join(OUT, "hdf5", "types.h5"))
    # Reference digests for the provenance test (computed by hashlib, not by the Swift code).
    with open(os.path.join(export_dir, "SHA256SUMS"), "w") as f:
        for name in sorted(os.listdir(export_dir)):
            if name.endswith(".h5"):
                with open(os.path.join(export_dir, name), "rb") as h:
                    f.write(f"{hashlib.sha256(h.read()).hexdigest()}  {name}\n")
    for directory, _, files in sorted(os.walk(OUT)):
        for name in sorted(files):
            full = os.path.join(directory, name)
            print(f"{os.path.getsize(full):8d}  {os.path.relpath(full, OUT)}")


if __name__ == "__main__":
    main()
