#!/usr/bin/env python3
"""Exports TelME checkpoints (PyTorch state dicts) into one HDF5 file for `telme convert`.

    python3 Scripts/export_hdf5.py --teacher teacher.bin --text-config config.json \\
        --tokenizer DIR [--audio total_student.bin --audio-config config.json] \\
        [--video total_student.bin --video-config config.json] [--fusion total_fusion.bin] \\
        --dataset meld|iemocap -o model.h5

Any subset that includes the teacher is valid; the fusion needs both students. Every entry of
every state dict is written, unchanged in name, shape and dtype (bfloat16, which HDF5 cannot
hold, is widened to float32 exactly and marked), together with the HF config.json texts, the
tokenizer files and the dataset name. Nothing is dropped or renamed: `telme convert` decides
what it uses. The layout is specified in Schemas/hdf5-export.md.
"""
import argparse
import hashlib
import json
import os
import sys

import h5py
import numpy as np
import torch

FORMAT = "telme-hdf5-export"
FORMAT_VERSION = 1
DATASETS = ("meld", "iemocap")
TOKENIZER_FILES = ("vocab.json", "merges.txt")


class ExportError(Exception):
    """A refusal with a one-line reason naming the file (and the tensor when there is one)."""


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_text(path, what):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ExportError(f"{path}: cannot read the {what}: {e.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ExportError(f"{path}: the {what} is not UTF-8 (byte {e.start})") from None


def read_config(path):
    """The exact text of an HF config.json, checked to be a JSON object."""
    text = read_text(path, "config")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ExportError(f"{path}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    if not isinstance(value, dict):
        raise ExportError(f"{path}: a config.json must hold a JSON object")
    return text


def read_tokenizer(directory):
    """The raw bytes of vocab.json and merges.txt (checked for the basics)."""
    files = {}
    for name in TOKENIZER_FILES:
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            raise ExportError(f"{directory}: the tokenizer directory has no {name}")
        with open(path, "rb") as f:
            files[name] = f.read()
    try:
        vocab = json.loads(files["vocab.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExportError(f"{os.path.join(directory, 'vocab.json')}: not valid UTF-8 JSON: {e}") from None
    if not isinstance(vocab, dict) or not vocab:
        raise ExportError(f"{os.path.join(directory, 'vocab.json')}: must hold a non-empty JSON object")
    # transformers would load these too and shift every added token's id: refuse rather than
    # export a tokenizer that differs from what the authors' code builds.
    added = os.path.join(directory, "added_tokens.json")
    if os.path.isfile(added):
        try:
            with open(added, encoding="utf-8") as f:
                extra = json.load(f)
        except (OSError, ValueError) as e:
            raise ExportError(f"{added}: cannot read: {e}") from None
        if extra:
            raise ExportError(f"{added}: adds tokens to the vocabulary, which the TelME tokenizer does not have; "
                              "remove it or export from the plain roberta tokenizer files")
    return files


def load_state_dict(path, allow_pickle):
    """torch.load on the CPU, with `weights_only` unless the user allowed arbitrary pickles."""
    if not os.path.isfile(path):
        raise ExportError(f"{path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except Exception as e:  # torch raises many kinds: unpickling, zip, storage errors
        reason = " ".join(str(e).split())[:300]
        hint = "" if allow_pickle else " (if it is a trusted pickle of more than tensors, retry with --allow-pickle)"
        raise ExportError(f"{path}: cannot load as a PyTorch state dict: {reason}{hint}") from None
    if not isinstance(state, dict):
        raise ExportError(f"{path}: holds a value of type {type(state).__name__}, expected a state dict (name -> tensor)")
    if not state:
        raise ExportError(f"{path}: the state dict is empty")
    for key, value in state.items():
        if not isinstance(key, str) or not key or "/" in key or key in (".", ".."):
            raise ExportError(f"{path}: state-dict key {key!r} cannot be an HDF5 dataset name")
        if not isinstance(value, torch.Tensor):
            raise ExportError(f"{path}: {key}: holds a value of type {type(value).__name__}, not a tensor")
        if value.is_sparse or value.is_quantized or value.is_complex():
            raise ExportError(f"{path}: {key}: sparse, quantized and complex tensors are not supported")
    return state


def to_array(path, key, tensor):
    """The tensor's values as a NumPy array of the same dtype; bfloat16 becomes float32 (exact)."""
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.to(torch.float32)
    try:
        return tensor.numpy()
    except (TypeError, RuntimeError) as e:
        raise ExportError(f"{path}: {key}: dtype {tensor.dtype} cannot be stored: {e}") from None


def write_component(h5, name, checkpoint, state, config_text):
    group = h5.create_group(name)
    group.attrs["source"] = os.path.basename(checkpoint)
    group.attrs["source_sha256"] = sha256_of(checkpoint)
    if config_text is not None:
        group.attrs["config"] = config_text
    total = 0
    for key, tensor in state.items():
        array = to_array(checkpoint, key, tensor)
        dataset = group.create_dataset(key, data=array)
        if tensor.dtype == torch.bfloat16:
            dataset.attrs["torch_dtype"] = "bfloat16"
        total += array.nbytes
    return total


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True, help="teacher.bin (state dict of the text teacher)")
    parser.add_argument("--text-config", required=True, help="HF config.json of the teacher's RoBERTa")
    parser.add_argument("--tokenizer", required=True, help="directory with vocab.json and merges.txt")
    parser.add_argument("--audio", help="student_audio/total_student.bin")
    parser.add_argument("--audio-config", help="HF config.json of the data2vec-audio encoder")
    parser.add_argument("--video", help="student_video/total_student.bin")
    parser.add_argument("--video-config", help="HF config.json of the TimeSformer encoder")
    parser.add_argument("--fusion", help="total_fusion.bin (needs --audio and --video)")
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="dataset the checkpoints were trained on")
    parser.add_argument("-o", "--output", required=True, help="HDF5 file to write (replaced if it exists)")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="load checkpoints with weights_only=False (runs pickled code: trusted files only)")
    args = parser.parse_args(argv)
    if bool(args.audio) != bool(args.audio_config):
        parser.error("--audio and --audio-config go together")
    if bool(args.video) != bool(args.video_config):
        parser.error("--video and --video-config go together")
    if args.fusion and not (args.audio and args.video):
        parser.error("--fusion needs --audio and --video")
    return args


def export(args):
    components = [("teacher", args.teacher, args.text_config)]
    if args.audio:
        components.append(("audio", args.audio, args.audio_config))
    if args.video:
        components.append(("video", args.video, args.video_config))
    if args.fusion:
        components.append(("fusion", args.fusion, None))
    # Read and check everything before writing anything.
    configs = {name: read_config(config) if config else None for name, _, config in components}
    tokenizer = read_tokenizer(args.tokenizer)

    output = os.path.abspath(args.output)
    temporary = f"{output}.tmp-{os.getpid()}"
    summary = []
    try:
        # 'v108' keeps the file readable by libhdf5 1.8 and later (Debian's is 1.10).
        with h5py.File(temporary, "w", libver=("earliest", "v108")) as h5:
            h5.attrs["format"] = FORMAT
            h5.attrs["format_version"] = np.int64(FORMAT_VERSION)
            h5.attrs["dataset"] = args.dataset
            h5.attrs["exporter"] = "Scripts/export_hdf5.py"
            h5.attrs["torch_version"] = str(torch.__version__)
            h5.attrs["h5py_version"] = str(h5py.__version__)
            group = h5.create_group("tokenizer")
            for name, data in tokenizer.items():
                group.create_dataset(name, data=np.frombuffer(data, dtype=np.uint8))
            for name, checkpoint, _ in components:
                state = load_state_dict(checkpoint, args.allow_pickle)
                size = write_component(h5, name, checkpoint, state, configs[name])
                summary.append(f"{name}: {len(state)} tensors, {size / 1e6:.1f} MB")
                del state
        os.replace(temporary, output)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    print(f"{args.output}: {args.dataset}; " + "; ".join(summary), file=sys.stderr)


def main(argv=None):
    args = parse_args(argv)
    try:
        export(args)
    except ExportError as e:
        print(f"export_hdf5.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
