"""Audio student parity cases: `<outdir>/audio_cases.h5`.

Every case is a group `<case>/` holding
  audio              float32 [batch, samples]  normalised per clip as the pipeline does
  audio_hidden       float32 [batch, hidden]   h_a = last_hidden_state[:, 0, :]
  audio_logits       float32 [batch, classes]  W(h_a)
  audio_last_hidden  float32 [batch, frames, hidden]  the whole last_hidden_state
computed by `ctx.models["audio"]` (transformers 4.27.2 Data2VecAudioModel + W) in eval mode.
The root attribute `cases` lists the case names in order, comma-separated.

Cases cover: the authors' 1412-sample zero audio (what MELD clips over 30 s become), the
shortest input that gives one frame (the receptive field, 400 samples with the paper's
kernels and strides), several lengths including odd ones, and a batch of two clips.
"""
import os

import h5py
import numpy as np
import torch


def normalise(x):
    """Zero mean, unit variance per clip: `(x - mean) / sqrt(var + 1e-7)` in float32."""
    x = x.astype(np.float32)
    return ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)


def clip(rng, samples, rate=22050):
    """A voiced-looking signal: a few harmonics with a wandering pitch, noise and silence."""
    t = np.arange(samples) / rate
    f0 = 110 + 60 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(rng.uniform(0.2, 1) / k * np.sin(k * phase) for k in range(1, 6))
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 4) * t)) + 0.05 * rng.standard_normal(samples)
    x[: samples // 10] *= 0.01
    return normalise(x)


def receptive_field(config):
    field = 1
    for kernel, stride in reversed(list(zip(config.conv_kernel, config.conv_stride))):
        field = (field - 1) * stride + kernel
    return field


def make(ctx):
    model = ctx.models["audio"]
    rng = np.random.default_rng({"meld": 11, "iemocap": 12}[ctx.dataset])
    minimum = receptive_field(model.model.config)
    cases = {
        "zeros_1412": np.zeros((1, 1412), np.float32),
        f"min_{minimum}": clip(rng, minimum)[None],
        "len_4000": clip(rng, 4000)[None],
        "len_12345": clip(rng, 12345)[None],
        "len_16000": clip(rng, 16000)[None],
        "batch2_6001": np.stack([clip(rng, 6001), clip(rng, 6001)]),
    }
    path = os.path.join(ctx.outdir, "audio_cases.h5")
    with h5py.File(path, "w") as f, torch.no_grad():
        f.attrs["cases"] = ",".join(cases)
        for name, audio in cases.items():
            x = torch.from_numpy(audio)
            last = model.model(x).last_hidden_state
            hidden, logits = model(x)
            assert torch.equal(hidden, last[:, 0, :])
            g = f.create_group(name)
            g.create_dataset("audio", data=audio)
            g.create_dataset("audio_hidden", data=hidden.numpy())
            g.create_dataset("audio_logits", data=logits.numpy())
            g.create_dataset("audio_last_hidden", data=last.numpy())
    print(f"  wrote {path} ({os.path.getsize(path)} bytes, {len(cases)} cases)")
