"""Text teacher parity cases: `<outdir>/text_cases.h5`.

Every case is a group `<case>/` holding
  input_ids         int64   [batch, length]  left-padded with <pad> (1), ending in <mask>
  attention_mask    int64   [batch, length]  1 = token, 0 = padding
  text_hidden       float32 [batch, projection]  h_t = W(last_hidden_state[:, -1, :])
  text_logits       float32 [batch, classes]     classifier(h_t)
  text_last_hidden  float32 [batch, length, hidden]  the whole last_hidden_state
computed by `ctx.models["teacher"]` (transformers 4.27.2 RobertaModel + W + classifier) in
eval mode. The root attribute `cases` lists the case names in order, comma-separated.

Cases: one unpadded utterance; a left-padded batch of 3 of different lengths; the longest
input the teacher takes (512 tokens: 511 + <mask>) alone and padded next to a shorter one;
a batch with a row that is all padding (HF's finite mask makes its attention uniform); and
a pad id inside an attended span (position ids come from the ids, not from the mask).

It also writes `<outdir>/forward_cases.h5`, an input file of `telme forward` with the whole
model's PyTorch answers, for the command's end-to-end test. Root datasets (the inputs):
  input_ids int64 [5, L], attention_mask int64 [5, L], audio float32 [5, samples],
  video float32 [5, frames, channels, H, W]
and `expected/<semantics>/<output>` float32 for semantics `independent` and `official-batch4`:
text_hidden, text_logits, audio_hidden, audio_logits, video_hidden, video_logits,
fusion_logits. The encoders see the whole batch at once; ASF sees every row alone
(`independent`) or consecutive batches of 4, the last one partial (`official-batch4`), with
the students in the order audio, video (the models' default setting). Audio and video values
are multiples of 1/8 so that the gzip-compressed file stays small.
"""
import os

import h5py
import numpy as np
import torch

PAD = 1


def utterance(rng, length, vocab, mask_id):
    """`length` ids that look like a teacher input: a speaker token first, <mask> last."""
    ids = rng.integers(3, vocab, size=length)
    ids[ids == mask_id] = 4
    ids[0] = vocab - 9 + rng.integers(0, 9)  # one of <s1>..<s9>, the last rows of the table
    ids[-1] = mask_id
    return ids


def left_padded(rows):
    length = max(len(r) for r in rows)
    ids = np.full((len(rows), length), PAD, np.int64)
    mask = np.zeros((len(rows), length), np.int64)
    for i, r in enumerate(rows):
        if len(r):
            ids[i, length - len(r):] = r
            mask[i, length - len(r):] = 1
    return ids, mask


def make(ctx):
    model = ctx.models["teacher"]
    config = model.text_model.config
    assert config.pad_token_id == PAD
    vocab = config.vocab_size
    mask_id = vocab - 10  # <mask> is the last token of the base vocabulary, before <s1>..<s9>
    longest = config.max_position_embeddings - PAD - 1
    rng = np.random.default_rng({"meld": 21, "iemocap": 22}[ctx.dataset])
    inner_pad = utterance(rng, 14, vocab, mask_id)
    inner_pad[[3, 7]] = PAD
    cases = {
        "single_9": left_padded([utterance(rng, 9, vocab, mask_id)]),
        "padded3_17_5_31": left_padded([utterance(rng, n, vocab, mask_id) for n in (17, 5, 31)]),
        f"long_{longest}": left_padded([utterance(rng, longest, vocab, mask_id)]),
        f"padded2_{longest}_300": left_padded([utterance(rng, n, vocab, mask_id) for n in (longest, 300)]),
        "padded2_with_empty_row": left_padded([utterance(rng, 6, vocab, mask_id), []]),
        "pad_id_inside": (inner_pad[None].astype(np.int64), np.ones((1, 14), np.int64)),
    }
    path = os.path.join(ctx.outdir, "text_cases.h5")
    with h5py.File(path, "w") as f, torch.no_grad():
        f.attrs["cases"] = ",".join(cases)
        for name, (ids, mask) in cases.items():
            input_ids, attention_mask = torch.from_numpy(ids), torch.from_numpy(mask)
            last = model.text_model(input_ids, attention_mask).last_hidden_state
            hidden, logits = model(input_ids, attention_mask)
            assert torch.equal(hidden, model.W(last[:, -1, :]))
            g = f.create_group(name)
            g.create_dataset("input_ids", data=ids)
            g.create_dataset("attention_mask", data=mask)
            g.create_dataset("text_hidden", data=hidden.numpy())
            g.create_dataset("text_logits", data=logits.numpy())
            g.create_dataset("text_last_hidden", data=last.numpy())
    print(f"  wrote {path} ({os.path.getsize(path)} bytes, {len(cases)} cases)")
    write_forward_case(ctx, rng, vocab, mask_id)


def coarse(rng, shape):
    """Roughly normal values rounded to multiples of 1/8 (they compress well)."""
    return (np.round(rng.standard_normal(shape) * 8) / 8).astype(np.float32)


def write_forward_case(ctx, rng, vocab, mask_id, rows=5, official_batch=4):
    teacher, audio_model, video_model, fusion = (ctx.models[k] for k in ("teacher", "audio", "video", "fusion"))
    ids, mask = left_padded([utterance(rng, n, vocab, mask_id) for n in (12, 4, 20, 9, 15)][:rows])
    audio = coarse(rng, (rows, 4000))
    audio[1, :1500] = 0  # a shorter clip, left-padded with zeros as the authors' batches are
    cfg = video_model.model.config
    video = coarse(rng, (rows, cfg.num_frames, cfg.num_channels, cfg.image_size, cfg.image_size))
    with torch.no_grad():
        h_t, text_logits = teacher(torch.from_numpy(ids), torch.from_numpy(mask))
        h_a, audio_logits = audio_model(torch.from_numpy(audio))
        h_v, video_logits = video_model(torch.from_numpy(video))
        independent = torch.cat([fusion(h_t[i:i + 1], h_a[i:i + 1], h_v[i:i + 1]) for i in range(rows)])
        official = torch.cat([fusion(h_t[i:i + official_batch], h_a[i:i + official_batch], h_v[i:i + official_batch])
                              for i in range(0, rows, official_batch)])
    outputs = {"text_hidden": h_t, "text_logits": text_logits, "audio_hidden": h_a, "audio_logits": audio_logits,
               "video_hidden": h_v, "video_logits": video_logits}
    path = os.path.join(ctx.outdir, "forward_cases.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("input_ids", data=ids)
        f.create_dataset("attention_mask", data=mask)
        for key, value in (("audio", audio), ("video", video)):
            f.create_dataset(key, data=value, compression="gzip", shuffle=True)
        for semantics, fused in (("independent", independent), ("official-batch4", official)):
            for key, value in list(outputs.items()) + [("fusion_logits", fused)]:
                f.create_dataset(f"expected/{semantics}/{key}", data=value.numpy())
    print(f"  wrote {path} ({os.path.getsize(path)} bytes)")
