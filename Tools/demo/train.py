"""Trains the demo model, Samples/model/sample-model.h5: a small TelME, trained the way TelME is.

    python -m Tools.demo.train [--shared ../shared] [--work /tmp/telme-train-demo]   (from the repository root)

Run by hand (not in CI), with the project's venv (torch, transformers 4.27.2, h5py, librosa,
opencv) and the Debian packages ffmpeg and espeak-ng. No pretrained weights: everything is
trained from scratch on one CPU thread, in the authors' checkpoint format (the modules of
Tools/reference/checkpoints.py carry their state-dict names), and written by the real
exporter (Scripts/export_hdf5.py), so the demo goes through the converter like a real checkpoint.

1. Teacher: a small RoBERTa (TEXT below) with the real RoBERTa vocabulary + the nine speaker
   tokens, on TelME's exact input (the official speaker numbering, "<sA> utt ... </s> Now <sK>
   feels", last 511 tokens + <mask>: Tools/reference/teacher_input.py's `prompts`, the tokenizer
   built as the authors build it), trained on the 9989 MELD train utterances with their gold
   labels (cross-entropy); the epoch with the best weighted F1 on dev (1109) is kept.
2. Students: data2vec-audio and TimeSformer (tiny configs), trained as TelME trains its
   students: cross-entropy on gold + response distillation (KL between temperature-softened
   teacher and student logits) + feature distillation (KL between the batch's similarity
   matrices of the teacher's h_t and the student's hidden vector), the teacher frozen. No MELD
   audio or video exists here: the clips are made by Tools/demo/clips.py for
   --per-class train utterances of each label (and a fifth as many dev utterances for
   selection), and that maker puts a SYNTHETIC CUE of the gold label in the voice (pitch,
   speed) and the picture (background colour). The students learn the cue, nothing about
   real faces or voices.
3. Fusion: ASF on the frozen teacher and students, cross-entropy on gold, on the same clips.
   Attention within one utterance (the tool's default, `--batch-semantics independent`), not
   across the authors' batches of 4.

Media are prepared by Tools/reference/pipeline.py's `Preprocessor` (the authors' pipeline:
librosa at 22050 Hz, OpenCV BGR frames, the MELD frame rule, the VideoMAE processor).

Unused rows of the word embedding (tokens that never occur in MELD train: they never got a
gradient, so they hold their random initial values) are set to zero before export, which
keeps the repository's copy small; the weights are saved as float16 (the exporter writes them
as float16; `telme convert` widens them exactly). Prints the teacher's dev and test scores.
"""
import argparse
import csv
import json
import os
import random
import shutil
import time

import torch
import torch.nn.functional as F
from transformers import Data2VecAudioConfig, RobertaConfig, TimesformerConfig

from Tools import ROOT, SHARED
from Tools.demo.clips import make_clips
from Tools.reference.checkpoints import (ASF, FUSION, LABELS, SPEAKER_TOKENS, AudioStudent, Teacher, VideoStudent,
                                         export, save_checkpoints)
from Tools.reference.teacher_input import prompts, telme_tokenizer

CLASSES = LABELS["meld"]
PROJECTION = 64  # the teacher's W: hidden -> PROJECTION (h_t)
STUDENT = 48  # the students' hidden width (h_a, h_v); ASF's 96-wide attention needs 3 | 2 * STUDENT


def configs(vocab_size):
    text = RobertaConfig(vocab_size=vocab_size, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=512, max_position_embeddings=514, type_vocab_size=1,
                         layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                         hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    audio = Data2VecAudioConfig(hidden_size=STUDENT, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=96, conv_dim=[16] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2],
                                conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=True, num_conv_pos_embeddings=5,
                                conv_pos_kernel_size=19, num_conv_pos_embedding_groups=4, layer_norm_eps=1e-5,
                                mask_time_prob=0.0)
    # The paper's input geometry (8 frames of 224 x 224), with 32-pixel patches (49 per frame,
    # a quarter of the paper's tokens) to train in minutes.
    video = TimesformerConfig(image_size=224, patch_size=32, num_frames=8, hidden_size=STUDENT,
                              num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
    return text, audio, video


# Preprocessing settings: the authors' values (what `telme convert` sets for MELD).
SETTINGS = {"sample_rate": 22050, "max_audio_samples": 400000, "num_frames": 8, "channel_order": "bgr",
            "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}


def read_split(shared, split):
    with open(os.path.join(shared, "data", "meld", f"{split}_meld_emo.csv"), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def teacher_inputs(rows, tok):
    """TelME's teacher ids per row (official numbering), as the authors build them."""
    triples = [(r["Dialogue_ID"], r["Speaker"], r["Utterance"]) for r in rows]
    return [tok.convert_tokens_to_ids(tok.tokenize(p)[-511:]) + [tok.mask_token_id]
            for p in prompts(triples, "official")]


def left_pad(batch):
    width = max(len(ids) for ids in batch)
    ids = torch.ones(len(batch), width, dtype=torch.long)
    mask = torch.zeros(len(batch), width, dtype=torch.long)
    for i, seq in enumerate(batch):
        ids[i, width - len(seq):] = torch.tensor(seq)
        mask[i, width - len(seq):] = 1
    return ids, mask


def batches_by_length(indices, lengths, size, shuffle, rng):
    """Batches of similar length (less padding), in a shuffled order when training."""
    order = sorted(indices, key=lambda i: lengths[i])
    groups = [order[k:k + size] for k in range(0, len(order), size)]
    if shuffle:
        rng.shuffle(groups)
    return groups


def weighted_f1(gold, pred, classes=len(CLASSES)):
    """sklearn's precision_recall_fscore_support(average='weighted') F1."""
    total, score = len(gold), 0.0
    for c in range(classes):
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        support = sum(1 for g in gold if g == c)
        predicted = sum(1 for p in pred if p == c)
        if support and tp:
            precision, recall = tp / predicted, tp / support
            score += support * 2 * precision * recall / (precision + recall)
    return score / total


def run_teacher(teacher, ids, size=64):
    """(h_t, logits) for every input, in order, eval mode."""
    teacher.eval()
    lengths = [len(x) for x in ids]
    hidden, logits = [None] * len(ids), [None] * len(ids)
    with torch.no_grad():
        for group in batches_by_length(range(len(ids)), lengths, size, False, None):
            h, out = teacher(*left_pad([ids[i] for i in group]))
            for k, i in enumerate(group):
                hidden[i], logits[i] = h[k], out[k]
    return torch.stack(hidden), torch.stack(logits)


def train_teacher(args, text_cfg, rows, ids, labels):
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    teacher = Teacher(text_cfg, text_cfg.vocab_size, PROJECTION, len(CLASSES))
    optimiser = torch.optim.AdamW(teacher.parameters(), lr=args.lr, weight_decay=0.01)
    train = list(range(len(ids["train"])))
    steps = args.epochs * ((len(train) + args.batch - 1) // args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, total_steps=steps, pct_start=0.1)
    best, best_state, history = -1.0, None, []
    for epoch in range(args.epochs):
        teacher.train()
        start, total = time.time(), 0.0
        for group in batches_by_length(train, [len(x) for x in ids["train"]], args.batch, True, rng):
            input_ids, mask = left_pad([ids["train"][i] for i in group])
            _, logits = teacher(input_ids, mask)
            loss = F.cross_entropy(logits, torch.tensor([labels["train"][i] for i in group]))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(teacher.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            total += loss.item() * len(group)
        _, dev_logits = run_teacher(teacher, ids["dev"])
        dev_f1 = weighted_f1(labels["dev"], dev_logits.argmax(-1).tolist())
        history.append({"epoch": epoch + 1, "train_loss": total / len(train), "dev_weighted_f1": dev_f1,
                        "seconds": time.time() - start})
        print(f"teacher epoch {epoch + 1}: loss {total / len(train):.3f}, dev weighted F1 {100 * dev_f1:.2f} "
              f"({time.time() - start:.0f} s)", flush=True)
        if dev_f1 > best:
            best, best_state = dev_f1, {k: v.clone() for k, v in teacher.state_dict().items()}
    teacher.load_state_dict(best_state)
    teacher.eval()
    return teacher, history


def pick_clip_rows(rows, per_class, rng):
    """`per_class` rows of each label (all of them when a label has fewer), in corpus order."""
    chosen = []
    for label in CLASSES:
        pool = [i for i, r in enumerate(rows) if r["Emotion"] == label]
        chosen += rng.sample(pool, min(per_class, len(pool)))
    return sorted(chosen)


def clip_inputs(rows, picks, split, work):
    """Makes the clips of the picked rows and prepares them as the authors' pipeline does."""
    from Tools.reference.pipeline import Preprocessor
    folder = os.path.join(work, f"clips-{split}")
    picked = [rows[i] for i in picks]
    if not os.path.isdir(folder) or len(os.listdir(folder)) != len(picked):
        shutil.rmtree(folder, ignore_errors=True)
        make_clips(picked, folder)
    pre = Preprocessor(SETTINGS, 224)
    audio, video = [], []
    for r in picked:
        path = os.path.join(folder, f"dia{r['Dialogue_ID']}_utt{r['Utterance_ID']}.mp4")
        raw, why = pre.load_audio(path)
        assert raw is not None, f"{path}: {why}"
        audio.append(torch.from_numpy(pre.normalise_audio(raw[0])))

        class Row:  # what Preprocessor.video reads
            video_path = path
        pixels, why = pre.video(Row, "meld")
        assert pixels is not None, f"{path}: {why}"
        video.append(torch.from_numpy(pixels).to(torch.float16))  # halves the memory; widened per batch
    return audio, video


def left_pad_audio(batch):
    width = max(len(a) for a in batch)
    out = torch.zeros(len(batch), width)
    for i, a in enumerate(batch):
        out[i, width - len(a):] = a
    return out


def feature_loss(student_hidden, teacher_hidden, temperature=4.0):
    """KL between the batch's row-softmaxed cosine-similarity matrices (teacher -> student)."""
    s = F.normalize(student_hidden, dim=-1)
    t = F.normalize(teacher_hidden, dim=-1)
    return F.kl_div(F.log_softmax(s @ s.T * temperature, dim=-1), F.softmax(t @ t.T * temperature, dim=-1),
                    reduction="batchmean")


def response_loss(student_logits, teacher_logits, temperature=2.0):
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.softmax(teacher_logits / temperature, dim=-1), reduction="batchmean") * temperature ** 2


def student_input(medium, batch):
    return left_pad_audio(batch) if medium == "audio" else torch.stack(batch).float()


def train_student(args, student, medium, data, teacher_out, labels, dev):
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    optimiser = torch.optim.AdamW(student.parameters(), lr=args.student_lr, weight_decay=0.01)
    h_t, z_t = teacher_out
    best, best_state = -1.0, None
    for epoch in range(args.student_epochs):
        student.train()
        order = list(range(len(data)))
        rng.shuffle(order)
        start = time.time()
        for k in range(0, len(order), 8):
            group = order[k:k + 8]
            # One clip at a time through the encoder (audio is not padded: no mask, as the authors).
            outs = [student(student_input(medium, [data[i]])) for i in group]
            hidden = torch.cat([h for h, _ in outs])
            logits = torch.cat([z for _, z in outs])
            gold = torch.tensor([labels[i] for i in group])
            loss = (F.cross_entropy(logits, gold) + response_loss(logits, z_t[group])
                    + feature_loss(hidden, h_t[group]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        dev_pred = predict_student(student, medium, dev[0]).argmax(-1).tolist()
        dev_f1 = weighted_f1(dev[1], dev_pred)
        print(f"{medium} student epoch {epoch + 1}: dev weighted F1 {100 * dev_f1:.2f} ({time.time() - start:.0f} s)",
              flush=True)
        if dev_f1 > best:
            best, best_state = dev_f1, {k: v.clone() for k, v in student.state_dict().items()}
    student.load_state_dict(best_state)
    student.eval()
    return best


def predict_student(student, medium, data, hidden=False):
    student.eval()
    with torch.no_grad():
        outs = [student(student_input(medium, [x])) for x in data]
    student.train()
    return torch.cat([h if hidden else z for h, z in outs])


def fusion_forward(fusion, h_t, h_a, h_v):
    """ASF per utterance: (1, batch, width) makes MultiheadAttention attend within each utterance."""
    return fusion(h_t.unsqueeze(0), h_a.unsqueeze(0), h_v.unsqueeze(0))[0]


def train_fusion(args, fusion, train, dev):
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    optimiser = torch.optim.AdamW(fusion.parameters(), lr=args.student_lr, weight_decay=0.01)
    (h_t, h_a, h_v, gold), (dh_t, dh_a, dh_v, dev_gold) = train, dev
    best, best_state = -1.0, None
    for epoch in range(args.fusion_epochs):
        fusion.train()
        order = list(range(len(gold)))
        rng.shuffle(order)
        for k in range(0, len(order), 16):
            group = order[k:k + 16]
            loss = F.cross_entropy(fusion_forward(fusion, h_t[group], h_a[group], h_v[group]), gold[group])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        fusion.eval()
        with torch.no_grad():
            dev_f1 = weighted_f1(dev_gold.tolist(), fusion_forward(fusion, dh_t, dh_a, dh_v).argmax(-1).tolist())
        if dev_f1 > best:
            best, best_state = dev_f1, {k: v.clone() for k, v in fusion.state_dict().items()}
    print(f"fusion: best dev weighted F1 {100 * best:.2f} on the dev clips", flush=True)
    fusion.load_state_dict(best_state)
    fusion.eval()
    return best


def zero_unseen_embeddings(teacher, train_ids):
    seen = torch.zeros(teacher.text_model.embeddings.word_embeddings.weight.shape[0], dtype=torch.bool)
    for ids in train_ids:
        seen[torch.tensor(ids)] = True
    with torch.no_grad():
        teacher.text_model.embeddings.word_embeddings.weight[~seen] = 0
    return int(seen.sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=SHARED)
    parser.add_argument("--work", default="/tmp/telme-train-demo", help="checkpoints, clips, logs (kept)")
    parser.add_argument("-o", "--out", default=os.path.join(ROOT, "Samples", "model", "sample-model.h5"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--per-class", type=int, default=25, help="train clips per label for the students")
    parser.add_argument("--student-epochs", type=int, default=6)
    parser.add_argument("--student-lr", type=float, default=1e-3)
    parser.add_argument("--fusion-epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    began = time.time()

    tokenizer_dir = os.path.join(args.shared, "tokenizers", "roberta")
    tok = telme_tokenizer(tokenizer_dir)
    rows = {split: read_split(args.shared, split) for split in ("train", "dev", "test")}
    ids = {split: teacher_inputs(r, tok) for split, r in rows.items()}
    labels = {split: [CLASSES.index(x["Emotion"]) for x in r] for split, r in rows.items()}
    with open(os.path.join(tokenizer_dir, "vocab.json"), encoding="utf-8") as f:
        vocab_size = len(json.load(f))
    text_cfg, audio_cfg, video_cfg = configs(vocab_size + len(SPEAKER_TOKENS))
    assert len(tok) == text_cfg.vocab_size

    # 1. Teacher.
    teacher, history = train_teacher(args, text_cfg, rows, ids, labels)
    seen = zero_unseen_embeddings(teacher, ids["train"])
    scores = {}
    for split in ("dev", "test"):
        _, logits = run_teacher(teacher, ids[split])
        scores[split] = weighted_f1(labels[split], logits.argmax(-1).tolist())
    print(f"teacher: dev {100 * scores['dev']:.2f}, test {100 * scores['test']:.2f} weighted F1 "
          f"(embedding rows kept: {seen}); {time.time() - began:.0f} s so far", flush=True)
    teacher_seconds = time.time() - began

    # 2. Students, on made clips of a class-balanced subset.
    rng = random.Random(args.seed)
    picks = {"train": pick_clip_rows(rows["train"], args.per_class, rng),
             "dev": pick_clip_rows(rows["dev"], max(args.per_class // 5, 1), rng)}
    media, teacher_out, gold = {}, {}, {}
    for split, chosen in picks.items():
        media[split] = clip_inputs(rows[split], chosen, split, args.work)
        h, z = run_teacher(teacher, [ids[split][i] for i in chosen])
        teacher_out[split] = (h, z)
        gold[split] = [labels[split][i] for i in chosen]
    print(f"clips: {len(picks['train'])} train, {len(picks['dev'])} dev; {time.time() - began:.0f} s so far", flush=True)
    torch.manual_seed(args.seed)
    audio = AudioStudent(audio_cfg, len(CLASSES))
    video = VideoStudent(video_cfg, len(CLASSES))
    student_scores = {}
    for student, medium, k in ((audio, "audio", 0), (video, "video", 1)):
        student_scores[medium] = train_student(args, student, medium, media["train"][k], teacher_out["train"],
                                               gold["train"], (media["dev"][k], gold["dev"]))

    # 3. Fusion on the frozen encoders.
    heads, beta = FUSION["meld"]
    fusion = ASF(PROJECTION, audio_cfg.hidden_size, video_cfg.hidden_size, heads, beta, len(CLASSES))

    def features(split):
        return (teacher_out[split][0], predict_student(audio, "audio", media[split][0], hidden=True),
                predict_student(video, "video", media[split][1], hidden=True), torch.tensor(gold[split]))
    fusion_score = train_fusion(args, fusion, features("train"), features("dev"))

    # Export through the real exporter, as float16.
    for module in (teacher, audio, video, fusion):
        module.half()
    checkpoints = os.path.join(args.work, "checkpoints")
    tokenizer_copy = os.path.join(checkpoints, "tokenizer")
    os.makedirs(tokenizer_copy, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(tokenizer_dir, name), tokenizer_copy)
    models = {"teacher": teacher, "audio": audio, "video": video, "fusion": fusion}
    export(save_checkpoints(checkpoints, models, (text_cfg, audio_cfg, video_cfg), tokenizer_copy, "meld"), args.out)
    summary = {"teacher_history": history, "teacher_dev_weighted_f1": scores["dev"],
               "teacher_test_weighted_f1": scores["test"], "student_dev_weighted_f1": student_scores,
               "fusion_dev_weighted_f1": fusion_score, "clips": {k: len(v) for k, v in picks.items()},
               "teacher_seconds": teacher_seconds, "seconds": time.time() - began, "args": vars(args)}
    with open(os.path.join(args.work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB) in {time.time() - began:.0f} s; "
          f"summary in {os.path.join(args.work, 'summary.json')}")


if __name__ == "__main__":
    main()
