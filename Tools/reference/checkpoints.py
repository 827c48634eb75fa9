"""Tiny random TelME checkpoints with the authors' state-dict names.

The modules below mirror the structure of the authors' Teacher_model, Student_Audio,
Student_Video and ASF (as TELME_REFERENCE.md states it) with configurable widths, so that
their state dicts carry exactly the names of the released `teacher.bin`,
`student_audio/total_student.bin`, `student_video/total_student.bin` and `total_fusion.bin`.
Built with transformers 4.27.2 they also carry the unused tensors the authors' files carry
(`text_model.embeddings.position_ids`, the pooler, `model.masked_spec_embed`).
"""
import json
import os
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import (Data2VecAudioConfig, Data2VecAudioModel, RobertaConfig, RobertaModel,
                          TimesformerConfig, TimesformerModel)

from Tools import EXPORTER
from Tools.reference.teacher_input import SPEAKER_TOKENS, bytes_to_unicode

LABELS = {
    "meld": ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"],
    "iemocap": ["ang", "exc", "fru", "hap", "neu", "sad"],
}
FUSION = {"meld": (3, 0.1), "iemocap": (4, 0.2)}


class Teacher(nn.Module):
    """RoBERTa teacher: `W(last_hidden_state[:, -1])`, then `classifier`."""

    def __init__(self, config, vocab_rows, projection_dim, classes):
        super().__init__()
        self.text_model = RobertaModel(config)
        self.text_model.resize_token_embeddings(vocab_rows)
        self.W = nn.Linear(config.hidden_size, projection_dim)
        self.classifier = nn.Linear(projection_dim, classes)

    def forward(self, input_ids, attention_mask):
        hidden = self.W(self.text_model(input_ids, attention_mask).last_hidden_state[:, -1, :])
        return hidden, self.classifier(hidden)


class Student(nn.Module):
    """A student: the first position of the encoder's `last_hidden_state` (data2vec-audio's first
    frame, TimeSformer's CLS), then `W`."""

    encoder = None  # the HF model class, set by each student below

    def __init__(self, config, classes):
        super().__init__()
        self.model = self.encoder(config)
        self.W = nn.Linear(config.hidden_size, classes)

    def forward(self, inputs):
        hidden = self.model(inputs).last_hidden_state[:, 0, :]
        return hidden, self.W(hidden)


class AudioStudent(Student):
    """data2vec-audio student."""
    encoder = Data2VecAudioModel


class VideoStudent(Student):
    """TimeSformer student."""
    encoder = TimesformerModel


class ASF(nn.Module):
    """Attention-based modality shifting fusion, as TELME_REFERENCE.md states it.

    `forward(h_t, x, y)` concatenates `x` then `y` (the authors call it with audio first).
    A 2-D input (batch, width) makes MultiheadAttention attend ACROSS the batch, as in the
    authors' inference; call it one row at a time for per-utterance semantics.
    """

    def __init__(self, text_dim, audio_dim, video_dim, heads, beta_shift, classes):
        super().__init__()
        av = audio_dim + video_dim
        self.multihead_attn = nn.MultiheadAttention(av, heads)
        self.W_hav = nn.Linear(av + text_dim, text_dim)
        self.W_av = nn.Linear(av, text_dim)
        self.beta_shift = beta_shift
        self.LayerNorm = nn.LayerNorm(text_dim)
        self.AV_LayerNorm = nn.LayerNorm(av)
        self.W = nn.Linear(text_dim, classes)

    def forward(self, text, first, second):
        nv = torch.cat((first, second), dim=-1)
        nv2 = self.multihead_attn(nv, nv, nv)[0] + nv
        av = self.AV_LayerNorm(nv2)
        weight = F.relu(self.W_hav(torch.cat((av, text), dim=-1)))
        h_m = weight * self.W_av(av)
        em_norm = text.norm(2, dim=-1)
        hm_norm = h_m.norm(2, dim=-1)
        hm_norm = torch.where(hm_norm == 0, torch.ones_like(hm_norm), hm_norm)
        alpha = torch.min(em_norm / (hm_norm + 1e-6) * self.beta_shift, torch.ones_like(em_norm))
        return self.W(self.LayerNorm(alpha.unsqueeze(-1) * h_m + text))


def tiny_tokenizer(directory):
    """A small byte-level BPE vocabulary (every byte, a few merges) in RoBERTa's layout."""
    os.makedirs(directory, exist_ok=True)
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "n"), ("o", "u"), ("Ġ", "s"),
              ("e", "r"), ("Ġ", "w"), ("o", "n"), ("Ġ", "N"), ("o", "w"), ("ĠN", "ow"), ("e", "e"),
              ("ee", "l"), ("f", "eel"), ("Ġ", "feel"), ("Ġfeel", "s")]
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in bytes_to_unicode().values():
        vocab.setdefault(ch, len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<mask>"] = len(vocab)
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return len(vocab)


def encoder_configs(vocab_size, text, audio, video, conv_dim, image_size, patch_size):
    """HF configs with the structure of the paper's encoders (RoBERTa; data2vec-audio's seven conv
    layers; a divided space-time TimeSformer on 8 frames of 3 channels) at the sizes given:
    `text`, `audio` and `video` are (hidden size, layers, heads, FFN size), `conv_dim` the seven
    conv widths, `image_size` and `patch_size` the video's."""
    def sizes(hidden, layers, heads, ffn):
        return dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ffn)

    return (RobertaConfig(vocab_size=vocab_size, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
                          pad_token_id=1, bos_token_id=0, eos_token_id=2, **sizes(*text)),
            Data2VecAudioConfig(conv_dim=conv_dim, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
                                conv_bias=True, num_conv_pos_embeddings=5, conv_pos_kernel_size=19,
                                num_conv_pos_embedding_groups=4, layer_norm_eps=1e-5, **sizes(*audio)),
            TimesformerConfig(image_size=image_size, patch_size=patch_size, num_channels=3, num_frames=8,
                              layer_norm_eps=1e-6, qkv_bias=True, attention_type="divided_space_time", **sizes(*video)))


def tiny_configs(vocab_size):
    """Small encoders with the paper's structure (all widths differ on purpose)."""
    return encoder_configs(vocab_size, text=(32, 2, 4, 64), audio=(32, 2, 4, 64), video=(16, 2, 2, 32),
                           conv_dim=[16] * 7, image_size=32, patch_size=16)


def roberta_large_config():
    """roberta-large's architecture (weights are random here)."""
    return RobertaConfig(vocab_size=50265, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                         intermediate_size=4096, max_position_embeddings=514, type_vocab_size=1,
                         layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2, hidden_act="gelu")


def data2vec_audio_base_config():
    """facebook/data2vec-audio-base-960h's architecture."""
    return Data2VecAudioConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                               intermediate_size=3072, conv_dim=[512] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2],
                               conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=True, num_conv_pos_embeddings=5,
                               conv_pos_kernel_size=19, num_conv_pos_embedding_groups=16, layer_norm_eps=1e-5,
                               hidden_act="gelu", feat_extract_activation="gelu")


def timesformer_base_config():
    """facebook/timesformer-base-finetuned-k400's architecture."""
    return TimesformerConfig(image_size=224, patch_size=16, num_channels=3, num_frames=8, hidden_size=768,
                             num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                             hidden_act="gelu", layer_norm_eps=1e-6, qkv_bias=True,
                             attention_type="divided_space_time")


def paper_configs(vocab_size=50265):
    """The paper's encoders: roberta-large, data2vec-audio-base-960h, timesformer-base."""
    text = roberta_large_config()
    text.vocab_size = vocab_size
    return text, data2vec_audio_base_config(), timesformer_base_config()


def perturb(module, generator, scale=0.05):
    """Moves every parameter off its HF initial value (LayerNorm 1/0 included) so parity tests
    exercise every tensor."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * scale)


def build_models(dataset, seed=0, configs=None, tokenizer_size=None, projection_dim=24):
    """The four modules with random weights. `configs` defaults to `tiny_configs`."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    classes = len(LABELS[dataset])
    text_cfg, audio_cfg, video_cfg = configs
    teacher = Teacher(text_cfg, tokenizer_size + len(SPEAKER_TOKENS), projection_dim, classes).eval()
    audio = AudioStudent(audio_cfg, classes).eval()
    video = VideoStudent(video_cfg, classes).eval()
    heads, beta = FUSION[dataset]
    fusion = ASF(projection_dim, audio_cfg.hidden_size, video_cfg.hidden_size, heads, beta, classes).eval()
    for m in (teacher, audio, video, fusion):
        perturb(m, generator)
    return {"teacher": teacher, "audio": audio, "video": video, "fusion": fusion}


def save_checkpoints(outdir, models, configs, tokenizer_dir, dataset):
    """Writes `models` and their HF `configs` in the authors' file layout and returns the
    checkpoint dict `export` takes.

    Layout: teacher.bin, student_audio/total_student.bin, student_video/total_student.bin,
    total_fusion.bin, text_config.json, audio_config.json, video_config.json; the tokenizer
    stays in `tokenizer_dir`.
    """
    os.makedirs(os.path.join(outdir, "student_audio"), exist_ok=True)
    os.makedirs(os.path.join(outdir, "student_video"), exist_ok=True)
    paths = {
        "teacher": os.path.join(outdir, "teacher.bin"),
        "audio": os.path.join(outdir, "student_audio", "total_student.bin"),
        "video": os.path.join(outdir, "student_video", "total_student.bin"),
        "fusion": os.path.join(outdir, "total_fusion.bin"),
        "text_config": os.path.join(outdir, "text_config.json"),
        "audio_config": os.path.join(outdir, "audio_config.json"),
        "video_config": os.path.join(outdir, "video_config.json"),
        "tokenizer": tokenizer_dir,
    }
    for name in ("teacher", "audio", "video", "fusion"):
        torch.save(models[name].state_dict(), paths[name])
    for name, cfg in zip(("text_config", "audio_config", "video_config"), configs):
        cfg.to_json_file(paths[name])
    return {"paths": paths, "models": models, "dataset": dataset}


def build_checkpoints(outdir, dataset="meld", seed=0, configs_for=tiny_configs, projection_dim=24):
    """Writes random checkpoints (`configs_for(vocab_size)`, the tiny tokenizer) in the
    authors' file layout and returns their paths and modules (see `save_checkpoints`)."""
    tokenizer_dir = os.path.join(outdir, "tokenizer")
    size = tiny_tokenizer(tokenizer_dir)
    configs = configs_for(size)
    models = build_models(dataset, seed, configs, size, projection_dim=projection_dim)
    return save_checkpoints(outdir, models, configs, tokenizer_dir, dataset)


def export(checkpoints, out_h5, components=("teacher", "audio", "video", "fusion")):
    """Runs the REAL exporter (Scripts/export_hdf5.py) on checkpoints from `build_checkpoints`."""
    p = checkpoints["paths"]
    cmd = [sys.executable, EXPORTER, "--teacher", p["teacher"], "--text-config", p["text_config"],
           "--tokenizer", p["tokenizer"], "--dataset", checkpoints["dataset"], "-o", out_h5]
    if "audio" in components:
        cmd += ["--audio", p["audio"], "--audio-config", p["audio_config"]]
    if "video" in components:
        cmd += ["--video", p["video"], "--video-config", p["video_config"]]
    if "fusion" in components:
        cmd += ["--fusion", p["fusion"]]
    subprocess.run(cmd, check=True)
    return out_h5
