#!/usr/bin/env python3
"""Writes a random-weight TelME model for MELD (the sample model before it was trained).

Small encoders but the real RoBERTa tokenizer (../shared/tokenizers/roberta) and the paper's
input geometry (224x224 frames, 8 frames, 22050 Hz audio), written by the real exporter. Its
labels are meaningless; the bundled Samples/model/sample-model.h5 is now the trained demo model
of Scripts/train_demo.py. Scripts/reference_corpus.py uses `sample_configs`.
Run with the project's venv: `python3 Scripts/make_sample.py -o random-model.h5`.
"""
import argparse
import os
import shutil
import sys
import tempfile

from transformers import Data2VecAudioConfig, RobertaConfig, TimesformerConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from telme_fixtures.checkpoints import build_models, export, save_checkpoints  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sample_configs(vocab_size):
    text = RobertaConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=514, type_vocab_size=1)
    audio = Data2VecAudioConfig(hidden_size=24, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                                conv_dim=[16] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2],
                                conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=True, num_conv_pos_embeddings=5,
                                conv_pos_kernel_size=19, num_conv_pos_embedding_groups=4)
    video = TimesformerConfig(image_size=224, patch_size=16, num_frames=8, hidden_size=24, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=32)
    return text, audio, video


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokenizer", default=os.path.join(ROOT, "..", "shared", "tokenizers", "roberta"))
    parser.add_argument("-o", "--out", required=True)
    args = parser.parse_args()
    import json
    with open(os.path.join(args.tokenizer, "vocab.json"), encoding="utf-8") as f:
        size = len(json.load(f))
    configs = sample_configs(size)
    models = build_models("meld", seed=7, configs=configs, tokenizer_size=size, projection_dim=16)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer_dir = os.path.join(tmp, "tokenizer")
        shutil.copytree(args.tokenizer, tokenizer_dir)
        export(save_checkpoints(tmp, models, configs, tokenizer_dir, "meld"), args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
