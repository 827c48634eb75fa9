"""Video student parity cases: `<outdir>/video_cases.h5`.

Every case is a group `<case>/` holding
  video              float32 [batch, frames, channels, size, size]  normalised frames
  video_hidden       float32 [batch, hidden]          h_v = last_hidden_state[:, 0, :] (CLS)
  video_logits       float32 [batch, classes]         W(h_v)
  video_last_hidden  float32 [batch, tokens, hidden]  the whole last_hidden_state
computed by `ctx.models["video"]` (transformers 4.27.2 TimesformerModel + W) in eval mode.
The root attribute `cases` lists the case names in order, comma-separated.

Cases: one clip, a batch of two, the all-zero clip the MELD >30 s rule gives (zeros AFTER
normalisation), a batch of two whose first clip is that zero clip, and a clip whose frames are
all the same picture (the temporal attention then sees identical keys). Datasets are stored
with the shuffle + gzip filters to keep the committed file small.
"""
import os

import h5py
import numpy as np
import torch

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def clip(rng, config):
    """Random 8-bit-like pixels scaled by 1/255 and normalised as the VideoMAE processor does."""
    shape = (config.num_frames, config.num_channels, config.image_size, config.image_size)
    pixels = rng.integers(0, 256, size=shape).astype(np.float32) / 255
    # Smooth the noise a little so neighbouring patches correlate, like real pictures.
    pixels = 0.5 * pixels + 0.5 * np.roll(pixels, 1, axis=-1)
    mean = MEAN[: config.num_channels, None, None]
    std = STD[: config.num_channels, None, None]
    return ((pixels - mean) / std).astype(np.float32)


def make(ctx):
    model = ctx.models["video"]
    config = model.model.config
    rng = np.random.default_rng({"meld": 21, "iemocap": 22}[ctx.dataset])
    zero = np.zeros((config.num_frames, config.num_channels, config.image_size, config.image_size), np.float32)
    still = np.repeat(clip(rng, config)[:1], config.num_frames, axis=0)
    cases = {
        "one_clip": clip(rng, config)[None],
        "batch2": np.stack([clip(rng, config), clip(rng, config)]),
        "zero_clip": zero[None],
        "batch2_zero_first": np.stack([zero, clip(rng, config)]),
        "still_clip": still[None],
    }
    path = os.path.join(ctx.outdir, "video_cases.h5")
    with h5py.File(path, "w") as f, torch.no_grad():
        f.attrs["cases"] = ",".join(cases)
        for name, video in cases.items():
            x = torch.from_numpy(video)
            last = model.model(x).last_hidden_state
            hidden, logits = model(x)
            assert torch.equal(hidden, last[:, 0, :])
            g = f.create_group(name)
            for key, value in (("video", video), ("video_hidden", hidden.numpy()),
                               ("video_logits", logits.numpy()), ("video_last_hidden", last.numpy())):
                g.create_dataset(key, data=value, compression="gzip", shuffle=True)
    print(f"  wrote {path} ({os.path.getsize(path)} bytes, {len(cases)} cases)")
