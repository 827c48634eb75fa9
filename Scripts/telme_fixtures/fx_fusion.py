"""ASF fusion parity cases: `<outdir>/fusion_cases.h5`.

Every case is a group `<case>/` of N rows holding the inputs
  text   float32 [N, text_dim]    h_t
  audio  float32 [N, audio_dim]   h_a
  video  float32 [N, video_dim]   h_v
and the PyTorch logits of `ctx.models["fusion"]` (the ASF module of checkpoints.py, called
as `fusion(h_t, first, second)`), float32 [N, classes]:
  independent_audio_video / independent_video_audio
      every row alone (`fusion(t[i:i+1], ...)`: attention over one element);
  official_audio_video / official_video_audio
      the rows in consecutive batches of 4 (the last one partial), each batch one 2-D call,
      so the attention runs across the batch members as in the authors' inference.
`audio_video` means `fusion(h_t, h_a, h_v)`, `video_audio` means `fusion(h_t, h_v, h_a)`.
The root attribute `cases` lists the case names in order, comma-separated; `official_batch` is 4.

Cases:
  random      6 rows of random embeddings (one batch of 4, then a partial batch of 2);
  students    6 rows taken from the real tiny students' and teacher's outputs;
  relu_zero   h_t chosen so that relu(W_hav(...)) is exactly 0, so h_m == 0 (the |h_m| == 0 rule);
  zero_w_av   random rows through a copy of the fusion whose W_av weight and bias are zero
              (h_m == 0 again); the Swift test replaces those two tensors with zeros.
"""
import copy
import os

import h5py
import torch

BATCH = 4
ORDERS = {"audio_video": lambda a, v: (a, v), "video_audio": lambda a, v: (v, a)}


def logits(fusion, text, audio, video):
    """Independent and official logits for both orders."""
    out = {}
    n = text.shape[0]
    for order, pick in ORDERS.items():
        first, second = pick(audio, video)
        out[f"independent_{order}"] = torch.cat(
            [fusion(text[i:i + 1], first[i:i + 1], second[i:i + 1]) for i in range(n)])
        out[f"official_{order}"] = torch.cat(
            [fusion(text[i:i + BATCH], first[i:i + BATCH], second[i:i + BATCH]) for i in range(0, n, BATCH)])
    return out


def gate_outputs(fusion, text, audio, video):
    """The W_hav outputs of every call `logits` makes (to check the relu_zero case)."""
    seen = []
    handle = fusion.W_hav.register_forward_hook(lambda m, i, o: seen.append(o))
    logits(fusion, text, audio, video)
    handle.remove()
    return torch.cat(seen)


def student_rows(ctx, n, generator):
    """h_t, h_a, h_v of the real tiny encoders on random inputs."""
    teacher, audio, video = ctx.models["teacher"], ctx.models["audio"], ctx.models["video"]
    vocab = teacher.text_model.config.vocab_size
    ids = torch.randint(3, vocab, (n, 9), generator=generator)
    mask = torch.ones_like(ids)
    ids[0, :3] = 1  # left padding on one row
    mask[0, :3] = 0
    h_t, _ = teacher(ids, mask)
    waves = torch.randn(n, 3000, generator=generator)
    waves = (waves - waves.mean(1, keepdim=True)) / torch.sqrt(waves.var(1, unbiased=False, keepdim=True) + 1e-7)
    h_a, _ = audio(waves)
    cfg = video.model.config
    clips = torch.randn(n, cfg.num_frames, cfg.num_channels, cfg.image_size, cfg.image_size, generator=generator)
    h_v, _ = video(clips)
    return h_t, h_a, h_v


def make(ctx):
    fusion = ctx.models["fusion"]
    generator = torch.Generator().manual_seed({"meld": 31, "iemocap": 32}[ctx.dataset])
    text_dim = fusion.W.in_features
    av = fusion.AV_LayerNorm.normalized_shape[0]
    audio_dim = ctx.models["audio"].model.config.hidden_size
    video_dim = av - audio_dim
    assert video_dim == ctx.models["video"].model.config.hidden_size

    def random_rows(n):
        return (torch.randn(n, text_dim, generator=generator), torch.randn(n, audio_dim, generator=generator),
                torch.randn(n, video_dim, generator=generator))

    cases = {}
    with torch.no_grad():
        cases["random"] = (fusion, *random_rows(6))
        cases["students"] = (fusion, *student_rows(ctx, 6, generator))

        # relu_zero: W_hav(concat(av, h_t)) = A av + B h_t + b with B square; B h_t = -1000
        # drives every gate far below 0 whatever av is (av is LayerNormed, so bounded).
        _, audio_rows, video_rows = random_rows(5)
        b_text = fusion.W_hav.weight[:, av:].double()
        solved = torch.linalg.solve(b_text, torch.full((text_dim, 1), -1000.0, dtype=torch.float64))
        text_rows = (solved.T.float() * torch.linspace(0.5, 1.5, 5)[:, None])
        assert bool((gate_outputs(fusion, text_rows, audio_rows, video_rows) < 0).all()), "relu_zero: a gate is >= 0"
        cases["relu_zero"] = (fusion, text_rows, audio_rows, video_rows)

        zeroed = copy.deepcopy(fusion)
        zeroed.W_av.weight.zero_()
        zeroed.W_av.bias.zero_()
        cases["zero_w_av"] = (zeroed, *random_rows(5))

        path = os.path.join(ctx.outdir, "fusion_cases.h5")
        with h5py.File(path, "w") as f:
            f.attrs["cases"] = ",".join(cases)
            f.attrs["official_batch"] = BATCH
            for name, (module, text, audio, video) in cases.items():
                g = f.create_group(name)
                g.create_dataset("text", data=text.numpy())
                g.create_dataset("audio", data=audio.numpy())
                g.create_dataset("video", data=video.numpy())
                for key, value in logits(module, text, audio, video).items():
                    assert torch.isfinite(value).all(), f"{name}/{key} is not finite"
                    g.create_dataset(key, data=value.numpy())
    print(f"  wrote {path} ({os.path.getsize(path)} bytes, {len(cases)} cases)")
