"""Random-weight TelME models with the real RoBERTa tokenizer (../shared/tokenizers/roberta),
written by the real exporter: inputs for Tools/reference/pipeline.py, Tools/reference/paper_size.py
and the benchmarks. Their labels are meaningless.

    python -m Tools.reference.random_model sample OUT.h5    # MELD, the demo model's geometry before it was
                                                            # trained (small encoders, 224x224 frames, 8 frames)
    python -m Tools.reference.random_model iemocap OUT.h5   # the same geometry, IEMOCAP labels
    python -m Tools.reference.random_model paper OUT.h5 [--dataset meld|iemocap]   # the paper's size (~2.3 GB)
"""
import argparse
import json
import os
import shutil
import tempfile

from transformers import Data2VecAudioConfig, RobertaConfig, TimesformerConfig

from Tools import SHARED
from Tools.reference.checkpoints import build_models, export, paper_configs, save_checkpoints


def sample_configs(vocab_size):
    """Small encoders (HF's defaults otherwise) at the paper's input geometry."""
    text = RobertaConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=514, type_vocab_size=1)
    audio = Data2VecAudioConfig(hidden_size=24, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                                conv_dim=[16] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2],
                                conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=True, num_conv_pos_embeddings=5,
                                conv_pos_kernel_size=19, num_conv_pos_embedding_groups=4)
    video = TimesformerConfig(image_size=224, patch_size=16, num_frames=8, hidden_size=24, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=32)
    return text, audio, video


# kind -> (dataset or None for --dataset, configs, seed, projection size)
MODELS = {
    "sample": ("meld", sample_configs, 7, 16),
    "iemocap": ("iemocap", sample_configs, 11, 16),
    "paper": (None, paper_configs, 5, 768),
}


def random_model(out, dataset, configs_for, tokenizer, seed, projection_dim):
    """Random TelME checkpoints (Tools/reference/checkpoints.py) with the tokenizer in
    `tokenizer`, exported with the real exporter to `out`."""
    with open(os.path.join(tokenizer, "vocab.json"), encoding="utf-8") as f:
        size = len(json.load(f))
    configs = configs_for(size)
    models = build_models(dataset, seed=seed, configs=configs, tokenizer_size=size, projection_dim=projection_dim)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer_dir = os.path.join(tmp, "tokenizer")
        shutil.copytree(tokenizer, tokenizer_dir)
        export(save_checkpoints(tmp, models, configs, tokenizer_dir, dataset), out)
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=sorted(MODELS))
    parser.add_argument("out")
    parser.add_argument("--dataset", default="meld", choices=("meld", "iemocap"), help="for `paper`")
    parser.add_argument("--tokenizer", default=os.path.join(SHARED, "tokenizers", "roberta"))
    args = parser.parse_args()
    dataset, configs_for, seed, projection_dim = MODELS[args.kind]
    random_model(args.out, dataset or args.dataset, configs_for, args.tokenizer, seed, projection_dim)


if __name__ == "__main__":
    main()
