"""End-to-end check of `telme annotate` against a Python reference of the authors' pipeline.

    python -m Tools.reference.pipeline --model MODEL.h5 --corpus CORPUS.csv \\
        --media CLIPS --telme .build-refpipe/release/telme [--semantics independent,official-batch4]

The reference follows TelME's MELD|IEMOCAP preprocessing.py, utils.py and inference.py (read,
not copied) on the corpus:
  text   the official speaker numbering and teacher string (Tools/reference/teacher_input.py:
         `prompts`, `telme_tokenizer`), last 511 tokens + <mask>, left padding;
  audio  librosa.load (22050 Hz mono) -> Wav2Vec2FeatureExtractor normalisation -> last 400000;
  video  cv2.VideoCapture frames (BGR), the MELD frame rule (or IEMOCAP's window rule),
         VideoMAEImageProcessor (shortest edge 224 PIL bilinear, centre crop, 1/255, ImageNet);
  30 s   MELD: a clip over 30 s gives 1412 zero samples and an all-zero video;
and runs the modules of Tools/reference/checkpoints.py (`Teacher`, `AudioStudent`,
`VideoStudent`, `ASF`) loaded with the weights of the HDF5 export. Semantics `independent`
runs every utterance alone (ASF attends over one element); `official-batch4` forms the
authors' batches of 4 in file order (audio left-padded with zeros, no mask; ASF across the
batch). Settings (sample rate, channel order, fusion order, the 30-s rule, ...) are read from
the converted model (`telme inspect --json`), whose defaults are the authors' values.

The tool side is `telme convert` of the same export and `telme annotate --media CLIPS` on the
same corpus (exit status 1, some utterances degraded, is not a failure). Compared per
utterance: the final label and probabilities (annotations.jsonl), the teacher's label and
probabilities (also from `telme annotate --text-only`), each student's label, and each
modality's status. Records hold no student probabilities, so those are measured with
`telme forward` on the reference's own preprocessed inputs (the model alone).

Exit status: 0 when every label and status agrees and no probability differs by more than
--tolerance; 1 otherwise; 2 when a side could not run.
Instead of an export, --checkpoints DIR (teacher.bin, student_audio/total_student.bin,
student_video/total_student.bin, total_fusion.bin, text_config.json, audio_config.json,
video_config.json, tokenizer/) with --dataset exports one first with Scripts/export_hdf5.py.
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import cv2
import h5py
import librosa
import numpy as np
import PIL
import torch
from transformers import (Data2VecAudioConfig, RobertaConfig, TimesformerConfig, VideoMAEImageProcessor,
                          Wav2Vec2FeatureExtractor)

from Tools import EXPORTER
from Tools.reference.checkpoints import ASF, AudioStudent, Teacher, VideoStudent
from Tools.reference.teacher_input import prompts, telme_tokenizer

DEFAULT_TOLERANCE = 1e-5
MODALITIES = ("text", "audio", "video", "final")


class Failure(Exception):
    """A side could not run: one line, exit status 2."""


# ------------------------------------------------------------------------------ corpus

class Row:
    """One utterance as the reference sees it."""

    def __init__(self, dialogue, speaker, text, audio_path, video_path, start=None, end=None):
        self.dialogue, self.speaker, self.text = dialogue, speaker, text
        self.audio_path, self.video_path = audio_path, video_path
        self.start, self.end = start, end
        self.index = 0  # position within its dialogue


def read_corpus(path, layout, media):
    """The rows of a MELD or IEMOCAP CSV, read with csv.reader as the authors' preprocessing does."""
    with open(path, "r", encoding="utf-8", newline="") as f:
        table = list(csv.reader(f))
    header = table[0]
    if layout == "auto":
        layout = "iemocap" if "Wav_Path" in header else "meld"
    col = {name: i for i, name in enumerate(header)}
    base = os.path.dirname(os.path.abspath(path))

    def resolve(p, root):
        if not p:
            return None
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(root, p))

    rows = []
    for r in table[1:]:
        text, speaker, dialogue = r[col["Utterance"]], r[col["Speaker"]], r[col["Dialogue_ID"]]
        if layout == "meld":
            if media:
                clip = os.path.join(media, f"dia{dialogue}_utt{r[col['Utterance_ID']]}.mp4")
            else:
                clip = resolve(r[col["Video_Path"]], base) if "Video_Path" in col else None
            rows.append(Row(dialogue, speaker, text, clip, clip))
        else:
            root = media or base
            rows.append(Row(dialogue, speaker, text, resolve(r[col["Wav_Path"]], root),
                            resolve(r[col["Video_Path"]], root), float(r[col["Start_Time"]]),
                            float(r[col["End_Time"]])))
    previous, index = None, 0
    for row in rows:
        index = index + 1 if row.dialogue == previous else 0
        row.index, previous = index, row.dialogue
    return layout, rows


# ------------------------------------------------------------------------------ model

def attr_text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class ReferenceModel:
    """The authors' four modules with the weights of an HDF5 export (Schemas/hdf5-export.md)."""

    def __init__(self, path, fusion_heads, beta_shift, workdir):
        with h5py.File(path, "r") as f:
            self.dataset = attr_text(f.attrs["dataset"])
            tokdir = os.path.join(workdir, "tokenizer")
            os.makedirs(tokdir, exist_ok=True)
            for name in ("vocab.json", "merges.txt"):
                with open(os.path.join(tokdir, name), "wb") as out:
                    out.write(f["tokenizer"][name][()].tobytes())
            self.tokenizer = telme_tokenizer(tokdir)

            def state(group):
                return {k: torch.from_numpy(np.array(f[group][k][()])) for k in f[group].keys()}

            def config(group, cls):
                return cls.from_dict(json.loads(attr_text(f[group].attrs["config"])))

            teacher_state = state("teacher")
            classes = teacher_state["classifier.weight"].shape[0]
            self.teacher = Teacher(config("teacher", RobertaConfig),
                                   teacher_state["text_model.embeddings.word_embeddings.weight"].shape[0],
                                   teacher_state["W.weight"].shape[0], classes)
            self.load(self.teacher, teacher_state, "teacher")
            self.audio = self.video = self.fusion = None
            if "audio" in f:
                self.audio = AudioStudent(config("audio", Data2VecAudioConfig), classes)
                self.load(self.audio, state("audio"), "audio")
            if "video" in f:
                self.video_config = config("video", TimesformerConfig)
                self.video = VideoStudent(self.video_config, classes)
                self.load(self.video, state("video"), "video")
            if "fusion" in f:
                fusion_state = state("fusion")
                self.fusion = ASF(teacher_state["W.weight"].shape[0], self.audio.model.config.hidden_size,
                                  self.video.model.config.hidden_size, fusion_heads, beta_shift, classes)
                self.load(self.fusion, fusion_state, "fusion")

    @staticmethod
    def load(module, state, name):
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise Failure(f"reference: /{name}: {str(error).splitlines()[0]} ...") from None
        module.eval()


# ------------------------------------------------------------------------------ preprocessing

def stream_types(path):
    """The kinds of stream ffprobe finds in a file (empty when it cannot read it), to tell a clip
    without an audio or video stream (status missing) from a broken one (status error)."""
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", path],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return set(result.stdout.split()) if result.returncode == 0 else set()


class Preprocessor:
    """The authors' audio and video preprocessing, with the model's settings."""

    def __init__(self, settings, image_size, variant=None):
        self.s = settings
        self.variant = variant  # a deliberate deviation (PROBES), for --probe
        self.audio_processor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                                        do_normalize=True, return_attention_mask=True)
        self.video_processor = VideoMAEImageProcessor(
            do_resize=True, size={"shortest_edge": image_size}, resample=PIL.Image.BILINEAR,
            do_center_crop=True, crop_size={"height": image_size, "width": image_size},
            do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
            image_mean=settings["image_mean"], image_std=settings["image_std"])
        self.image_size = image_size

    def load_audio(self, path):
        """librosa.load (mono, resampled to the setting's rate, soxr_hq) or an error text."""
        if path is None or not os.path.exists(path):
            return None, "missing"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, rate = librosa.load(path, sr=16000 if self.variant == "audio-16k" else self.s["sample_rate"],
                                       res_type="polyphase" if self.variant == "audio-polyphase" else "soxr_hq")
        except Exception as error:  # noqa: BLE001 - the authors' code would stop here
            return None, "missing" if stream_types(path) == {"video"} else f"error: {type(error).__name__}"
        return (y, rate), None

    def normalise_audio(self, y):
        values = self.audio_processor(y, sampling_rate=16000, return_tensors="np")["input_values"][0]
        if self.variant == "audio-head":
            return values[:self.s["max_audio_samples"]].astype(np.float32)
        return values[-self.s["max_audio_samples"]:].astype(np.float32)

    def meld_frames(self, path):
        """Every frame decoded in order; declared count L; L >= 8: every (L // 8)-th, first 8;
        L < 8: all, the last repeated up to 8."""
        capture = cv2.VideoCapture(path)
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        count, kept = 0, []
        n = self.s["num_frames"]
        step = declared // n if declared >= n else 1
        while capture.isOpened():
            ok, image = capture.read()
            if not ok:
                break
            count += 1
            if self.variant == "first-frames":
                take = count <= n  # the rule ignored: the first frames
            else:
                take = declared < n or count % step == 0
            if take:
                kept.append(image)
        capture.release()
        if kept and len(kept) < n:
            # L < 8 in the authors' code; when fewer than L frames decode (L >= 8) their code
            # stacks a short tensor and the model fails: the tool repeats the last frame there too.
            kept.extend(kept[-1].copy() for _ in range(n - len(kept)))
        return kept[:n]

    def window_frames(self, path, start, end):
        """IEMOCAP: frames numbered (CAP_PROP_POS_FRAMES after read) within fps * [start - m, end + m],
        every (fps * window // 8)-th of them, first 8, the last repeated when fewer."""
        capture = cv2.VideoCapture(path)
        fps = capture.get(cv2.CAP_PROP_FPS)
        margin = self.s["video_margin_seconds"]
        t0, t1 = max(start - margin, 0), end + margin
        step = (fps * (t1 - t0)) // self.s["num_frames"]
        kept, count = [], 0
        if step <= 0:
            capture.release()
            return []
        while capture.isOpened():
            ok, image = capture.read()
            if not ok:
                break
            number = int(capture.get(cv2.CAP_PROP_POS_FRAMES))
            if fps * t0 <= number <= fps * t1:
                count += 1
                if count % step == 0:
                    kept.append(image)
        capture.release()
        if kept:
            kept.extend(kept[-1].copy() for _ in range(self.s["num_frames"] - len(kept)))
        return kept[:self.s["num_frames"]]

    def video(self, row, layout):
        """[8, 3, H, W] float32, or (None, why)."""
        path = row.video_path
        if path is None or not os.path.exists(path):
            return None, "missing"
        try:
            frames = self.meld_frames(path) if layout == "meld" else self.window_frames(path, row.start, row.end)
        except Exception as error:  # noqa: BLE001
            return None, f"error: {type(error).__name__}"
        if not frames:
            return None, "missing" if stream_types(path) == {"audio"} else "error: no frames"
        if (self.s["channel_order"] == "rgb") != (self.variant == "rgb"):
            frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]
        if self.variant == "pixel+1":
            frames = [np.minimum(f.astype(np.int16) + 1, 255).astype(np.uint8) for f in frames]
        if self.variant == "cv2-resize":
            frames = [self.cv2_resized(f) for f in frames]
        pixels = self.video_processor(frames, do_resize=self.variant != "cv2-resize",
                                      return_tensors="np")["pixel_values"][0]
        return pixels.astype(np.float32), None

    def cv2_resized(self, image):
        """Shorter side to the image size with OpenCV's bilinear filter instead of PIL's."""
        h, w = image.shape[:2]
        size = self.image_size
        if h <= w:
            new = (int(size * w / h), size)
        else:
            new = (size, int(size * h / w))
        return cv2.resize(image, new, interpolation=cv2.INTER_LINEAR)

    def zero_audio(self):
        return np.zeros(self.s["zero_audio_samples"], dtype=np.float32)

    def zero_video(self):
        return np.zeros((self.s["num_frames"], 3, self.image_size, self.image_size), dtype=np.float32)


def prepare(rows, layout, model, pre):
    """Per row: audio / video inputs (or None) and each one's status (ok, zeroed, missing, error)."""
    out = []
    limit = pre.s.get("zero_media_over_seconds")
    for row in rows:
        item = {"audio": None, "video": None, "audio_status": "missing", "video_status": "missing"}
        raw, why = (None, None)
        if model.audio is not None:
            raw, why = pre.load_audio(row.audio_path)
            if raw is not None and limit is not None and librosa.get_duration(y=raw[0], sr=raw[1]) > limit:
                item.update(audio=pre.zero_audio(), video=pre.zero_video(), audio_status="zeroed",
                            video_status="zeroed" if model.video is not None else "missing")
                out.append(item)
                continue
            if raw is not None:
                item["audio"], item["audio_status"] = pre.normalise_audio(raw[0]), "ok"
            else:
                item["audio_status"] = "missing" if why == "missing" else "error"
        if model.video is not None:
            pixels, why = pre.video(row, layout)
            if pixels is not None:
                item["video"], item["video_status"] = pixels, "ok"
            else:
                item["video_status"] = "missing" if why == "missing" else "error"
        out.append(item)
    return out


def with_zeros(item, model, pre):
    """The authors' zero input for a modality that has none (official-batch4, missing_media=zero)."""
    item = dict(item)
    if model.audio is not None and item["audio"] is None:
        item["audio"], item["audio_status"] = pre.zero_audio(), "zeroed"
    if model.video is not None and item["video"] is None:
        item["video"], item["video_status"] = pre.zero_video(), "zeroed"
    return item


# ------------------------------------------------------------------------------ reference forward

def left_pad(seqs, value):
    width = max(len(s) for s in seqs)
    return [[value] * (width - len(s)) + list(s) for s in seqs], [[0] * (width - len(s)) + [1] * len(s) for s in seqs]


@torch.no_grad()
def reference_unit(model, ids, items, order, official):
    """Logits of one unit: every modality, and the fusion where audio and video are present.
    `official`: the rows are one authors' batch; otherwise each row runs alone."""
    def run(rows):
        padded, mask = left_pad([ids[k] for k in rows], model.tokenizer.pad_token_id)
        h_t, l_t = model.teacher(torch.tensor(padded), torch.tensor(mask))
        res = {"text": l_t, "h_t": h_t}
        has_a = [k for k in rows if items[k]["audio"] is not None]
        has_v = [k for k in rows if items[k]["video"] is not None]
        if model.audio is not None and has_a:
            clips = [items[k]["audio"] for k in has_a]
            width = max(len(c) for c in clips)
            batch = torch.zeros(len(clips), width)
            for i, c in enumerate(clips):
                batch[i, width - len(c):] = torch.from_numpy(c)
            h, l = model.audio(batch)
            res["h_a"], res["audio"] = dict(zip(has_a, h)), dict(zip(has_a, l))
        if model.video is not None and has_v:
            h, l = model.video(torch.from_numpy(np.stack([items[k]["video"] for k in has_v])))
            res["h_v"], res["video"] = dict(zip(has_v, h)), dict(zip(has_v, l))
        fused = {}
        if model.fusion is not None:
            both = [k for k in rows if k in res.get("h_a", {}) and k in res.get("h_v", {})]
            if both:
                t = torch.stack([h_t[rows.index(k)] for k in both])
                a = torch.stack([res["h_a"][k] for k in both])
                v = torch.stack([res["h_v"][k] for k in both])
                logits = model.fusion(t, a, v) if order == "audio-video" else model.fusion(t, v, a)
                fused = dict(zip(both, logits))
        return {k: {"text": l_t[rows.index(k)].numpy(),
                    "audio": res.get("audio", {}).get(k), "video": res.get("video", {}).get(k),
                    "fusion": fused.get(k)} for k in rows}

    out = {}
    groups = [list(range(len(items)))] if official else [[k] for k in range(len(items))]
    for rows in groups:
        for k, v in run(rows).items():
            out[k] = {m: (None if x is None else np.asarray(x, dtype=np.float64)) for m, x in v.items()}
    return out


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def reference(rows, layout, model, pre, settings, semantics, numbering=None):
    """Per row: each modality's logits (or None), the final logits and the statuses."""
    t0 = time.perf_counter()
    numbering = numbering or settings["speaker_numbering"]
    strings = prompts([(r.dialogue, r.speaker, r.text) for r in rows], numbering)
    tok = model.tokenizer
    ids = [tok.convert_tokens_to_ids(tok.tokenize(s)[-settings["max_text_tokens"]:]) + [tok.mask_token_id]
           for s in strings]
    items = prepare(rows, layout, model, pre)
    t1 = time.perf_counter()
    official = semantics == "official-batch4"
    zero_missing = official or settings["missing_media"] == "zero"
    if zero_missing:
        items = [with_zeros(i, model, pre) for i in items]
    results = []
    order = settings["fusion_order"]
    if official:
        for start in range(0, len(rows), 4):
            unit = list(range(start, min(start + 4, len(rows))))
            got = reference_unit(model, [ids[k] for k in unit], [items[k] for k in unit], order, True)
            results += [got[i] for i in range(len(unit))]
    else:
        got = reference_unit(model, ids, items, order, False)
        results = [got[i] for i in range(len(rows))]
    t2 = time.perf_counter()
    for r, item in zip(results, items):
        r["final"] = r["fusion"] if r["fusion"] is not None else r["text"]
        r["audio_status"], r["video_status"] = item["audio_status"], item["video_status"]
    return results, items, ids, {"preprocess": t1 - t0, "model": t2 - t1}


# ------------------------------------------------------------------------------ telme side

def telme(binary, *args, ok=(0,)):
    started = time.perf_counter()
    result = subprocess.run([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode not in ok:
        raise Failure(f"telme {args[0]} exited {result.returncode}: {result.stderr.strip()[-600:]}")
    return result, time.perf_counter() - started


def read_records(folder):
    with open(os.path.join(folder, "annotations.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def forward_students(binary, model_path, ids, items, official, workdir, pad_id):
    """`telme forward` on the reference's inputs: per row, text/audio/video (and fusion) logits."""
    units = ([list(range(s, min(s + 4, len(items)))) for s in range(0, len(items), 4)] if official
             else [[k] for k in range(len(items))])
    out = [dict() for _ in items]
    for n, unit in enumerate(units):
        path_in = os.path.join(workdir, f"fw-in-{n}.h5")
        path_out = os.path.join(workdir, f"fw-out-{n}.h5")
        audio_rows = [k for k in unit if items[k]["audio"] is not None]
        video_rows = [k for k in unit if items[k]["video"] is not None]
        padded, mask = left_pad([ids[k] for k in unit], pad_id)
        with h5py.File(path_in, "w") as f:
            # Rows are aligned only when every row has every input; otherwise the heads run apart.
            complete = len(audio_rows) == len(unit) and len(video_rows) == len(unit)
            f["input_ids"] = np.array(padded, dtype=np.int64)
            f["attention_mask"] = np.array(mask, dtype=np.int64)
            if complete:
                width = max(len(items[k]["audio"]) for k in unit)
                audio = np.zeros((len(unit), width), dtype=np.float32)
                for i, k in enumerate(unit):
                    audio[i, width - len(items[k]["audio"]):] = items[k]["audio"]
                f["audio"] = audio
                f["video"] = np.stack([items[k]["video"] for k in unit])
        telme(binary, "forward", "--model", model_path, "--inputs", path_in, "-o", path_out,
              "--batch-semantics", "official-batch4" if official else "independent")
        with h5py.File(path_out, "r") as f:
            for i, k in enumerate(unit):
                out[k]["text"] = f["text_logits"][i].astype(np.float64)
                if "audio_logits" in f:
                    out[k]["audio"] = f["audio_logits"][i].astype(np.float64)
                    out[k]["video"] = f["video_logits"][i].astype(np.float64)
                if "fusion_logits" in f:
                    out[k]["final"] = f["fusion_logits"][i].astype(np.float64)
        if not complete and not official:
            # A row with one student input only: that student alone.
            for k in unit:
                for name in ("audio", "video"):
                    if items[k][name] is None:
                        continue
                    with h5py.File(path_in, "w") as f:
                        f[name] = items[k][name][None]
                    telme(binary, "forward", "--model", model_path, "--inputs", path_in, "-o", path_out)
                    with h5py.File(path_out, "r") as f:
                        out[k][name] = f[f"{name}_logits"][0].astype(np.float64)
        for p in (path_in, path_out):
            if os.path.exists(p):
                os.remove(p)
    return out


# ------------------------------------------------------------------------------ comparison

class Tally:
    def __init__(self):
        self.compared = self.agree = 0
        self.max_diff = 0.0
        self.where = None
        self.disagreements = []

    def label(self, row_name, ref_label, tool_label, detail=""):
        self.compared += 1
        if ref_label == tool_label:
            self.agree += 1
        else:
            self.disagreements.append(f"{row_name}: reference {ref_label}, telme {tool_label}{detail}")

    def probs(self, row_name, ref_p, tool_p):
        d = float(np.max(np.abs(np.asarray(ref_p, dtype=np.float64) - np.asarray(tool_p, dtype=np.float64))))
        if self.where is None or d > self.max_diff:
            self.max_diff, self.where = d, row_name
        return d


def compare(rows, labels, ref, records, text_records, forward, sem):
    """Tallies per modality (end-to-end labels; probabilities end to end for text/final,
    model-only for the students), and status mismatches."""
    tallies = {m: Tally() for m in MODALITIES}
    model_only = {m: Tally() for m in ("text", "audio", "video", "final")}
    status_mismatch = []
    if len(records) != len(rows):
        raise Failure(f"telme wrote {len(records)} records for {len(rows)} utterances ({sem})")
    for k, (row, r, rec) in enumerate(zip(rows, ref, records)):
        name = f"dia{row.dialogue} utt{row.index}"
        if rec["dialogue"] != row.dialogue or rec["utterance"] != row.index:
            raise Failure(f"record {k} is dialogue {rec['dialogue']} utterance {rec['utterance']}, expected {name}")
        tool_p = [rec[f"p_{l}"] for l in labels]
        ref_p = softmax(r["final"])
        d = tallies["final"].probs(name, ref_p, tool_p)
        tallies["final"].label(name, labels[int(np.argmax(r["final"]))], rec["label"],
                               f" (|dp| {d:.2e}, reference p {ref_p.max():.4f})")
        ref_t = softmax(r["text"])
        text_p = [text_records[k][f"p_{l}"] for l in labels]
        tallies["text"].probs(name, ref_t, text_p)
        tallies["text"].label(name, labels[int(np.argmax(r["text"]))], rec["text_label"])
        for m in ("audio", "video"):
            ref_label = None if r[m] is None else labels[int(np.argmax(r[m]))]
            if ref_label is not None or rec[f"{m}_label"] is not None:
                tallies[m].label(name, ref_label, rec[f"{m}_label"])
            if r[m] is not None and forward[k].get(m) is not None:
                model_only[m].probs(name, softmax(r[m]), softmax(forward[k][m]))
                model_only[m].label(name, ref_label, labels[int(np.argmax(forward[k][m]))])
            if r[f"{m}_status"] != rec[f"{m}_status"]:
                status_mismatch.append(f"{name}: {m} reference {r[f'{m}_status']}, telme {rec[f'{m}_status']}"
                                       + (f" ({rec['message']})" if rec.get("message") else ""))
        model_only["text"].probs(name, ref_t, softmax(forward[k]["text"]))
        model_only["text"].label(name, labels[int(np.argmax(r["text"]))], labels[int(np.argmax(forward[k]["text"]))])
        if r["fusion"] is not None and forward[k].get("final") is not None:
            model_only["final"].probs(name, softmax(r["fusion"]), softmax(forward[k]["final"]))
            model_only["final"].label(name, labels[int(np.argmax(r["fusion"]))],
                                      labels[int(np.argmax(forward[k]["final"]))])
    return tallies, model_only, status_mismatch


def print_report(sem, tallies, model_only, status_mismatch, timing, tolerance, records):
    counts = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"\n== {sem} == (telme records: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + ")")
    print(f"{'':8}{'labels agree':>18}{'max |dp| end to end':>22}{'max |dp| model only':>22}")
    failed = False
    for m in MODALITIES:
        t = tallies[m]
        mo = model_only.get(m)
        pct = 100.0 * t.agree / t.compared if t.compared else 100.0
        e2e = "-" if m in ("audio", "video") else f"{t.max_diff:.3e}"
        model = "-" if mo is None or not mo.compared else f"{mo.max_diff:.3e}"
        print(f"{m:8}{t.agree:>6}/{t.compared:<4}{pct:6.1f} %{e2e:>22}{model:>22}")
        if t.agree != t.compared:
            failed = True
        if m not in ("audio", "video") and t.max_diff > tolerance:
            failed = True
        if mo is not None and mo.compared and (mo.max_diff > tolerance or mo.agree != mo.compared):
            failed = True
    for m in MODALITIES:
        for line in tallies[m].disagreements:
            print(f"  disagreement ({m}): {line}")
        mo = model_only.get(m)
        for line in (mo.disagreements if mo else []):
            print(f"  disagreement ({m}, model only): {line}")
    for m in MODALITIES:
        t = tallies[m]
        if m not in ("audio", "video") and t.where:
            print(f"  largest {m} difference at {t.where}")
    for line in status_mismatch:
        print(f"  status mismatch: {line}")
    failed = failed or bool(status_mismatch)
    print("  time: reference preprocessing %.2f s, reference model %.2f s; telme annotate %.2f s "
          "(run.json %.2f s), telme annotate --text-only %.2f s, telme forward checks %.2f s"
          % (timing["preprocess"], timing["model"], timing["annotate"], timing["annotate_run_json"],
             timing["text_only"], timing["forward"]))
    print(f"  {'FAIL' if failed else 'ok'} (tolerance {tolerance:g})")
    return failed


# ------------------------------------------------------------------------------ probes

# Deliberate deviations from the authors' pipeline: how far each moves the reference's
# probabilities says how small a tool-side error the comparison above can see.
PROBES = [
    ("rgb", "frames in RGB instead of BGR"),
    ("first-frames", "the first 8 frames instead of every (L // 8)-th"),
    ("cv2-resize", "OpenCV bilinear resize instead of PIL's"),
    ("pixel+1", "every pixel value + 1 (of 255)"),
    ("audio-16k", "audio at 16000 Hz instead of 22050"),
    ("audio-polyphase", "scipy polyphase resampling instead of soxr_hq"),
    ("audio-head", "the first 400000 samples instead of the last"),
    ("dialogue-numbering", "speakers numbered per dialogue"),
]


def probe(rows, layout, model, settings, image_size, base):
    print("\n== probes (independent): how far a deliberate preprocessing error moves the reference ==")
    print(f"{'deviation':20}{'final max|dp|':>15}{'flips':>7}{'text':>11}{'audio':>11}{'video':>11}  what")
    for name, what in PROBES:
        pre = Preprocessor(settings, image_size, None if name == "dialogue-numbering" else name)
        got, _, _, _ = reference(rows, layout, model, pre, settings, "independent",
                                 "dialogue" if name == "dialogue-numbering" else None)
        cells, flips = {}, 0
        for m in ("final", "text", "audio", "video"):
            diffs = [np.abs(softmax(a[m]) - softmax(b[m])).max() for a, b in zip(base, got)
                     if a[m] is not None and b[m] is not None]
            cells[m] = f"{max(diffs):.2e}" if diffs else "-"
        flips = sum(int(np.argmax(a["final"]) != np.argmax(b["final"])) for a, b in zip(base, got))
        print(f"{name:20}{cells['final']:>15}{flips:>7}{cells['text']:>11}{cells['audio']:>11}{cells['video']:>11}"
              f"  {what}")


# ------------------------------------------------------------------------------ main

def export_checkpoints(args, workdir):
    d = args.checkpoints
    out = os.path.join(workdir, "model.h5")
    cmd = [sys.executable, EXPORTER, "--teacher", os.path.join(d, "teacher.bin"),
           "--text-config", os.path.join(d, "text_config.json"), "--tokenizer", os.path.join(d, "tokenizer"),
           "--dataset", args.dataset, "-o", out]
    if os.path.exists(os.path.join(d, "student_audio", "total_student.bin")):
        cmd += ["--audio", os.path.join(d, "student_audio", "total_student.bin"),
                "--audio-config", os.path.join(d, "audio_config.json")]
    if os.path.exists(os.path.join(d, "student_video", "total_student.bin")):
        cmd += ["--video", os.path.join(d, "student_video", "total_student.bin"),
                "--video-config", os.path.join(d, "video_config.json")]
    if os.path.exists(os.path.join(d, "total_fusion.bin")):
        cmd += ["--fusion", os.path.join(d, "total_fusion.bin")]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise Failure(f"export_hdf5.py failed: {result.stderr.strip()[-400:]}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--model", help="HDF5 export of the model (Scripts/export_hdf5.py)")
    parser.add_argument("--checkpoints", help="instead of --model: a folder of checkpoints (see below)")
    parser.add_argument("--dataset", choices=("meld", "iemocap"), help="with --checkpoints")
    parser.add_argument("--corpus", required=True, help="MELD or IEMOCAP layout CSV")
    parser.add_argument("--media", help="MELD: folder of dia{D}_utt{U}.mp4; IEMOCAP: root of the CSV's paths")
    parser.add_argument("--layout", default="auto", choices=("auto", "meld", "iemocap"))
    parser.add_argument("--telme", required=True, help="the telme binary (a release build)")
    parser.add_argument("--semantics", default="independent,official-batch4",
                        help="comma-separated: independent, official-batch4")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help=f"largest allowed probability difference (default {DEFAULT_TOLERANCE:g})")
    parser.add_argument("--convert-arg", action="append", default=[],
                        help="extra argument for telme convert (repeat), e.g. --convert-arg=--fusion-order=video-audio")
    parser.add_argument("--annotate-arg", action="append", default=[],
                        help="extra argument for the media runs of telme annotate only (repeat); the reference does "
                             "not follow it, e.g. --annotate-arg=--channel-order=rgb to see the check fail")
    parser.add_argument("--threads", type=int, default=None, help="telme annotate --threads")
    parser.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--workdir", help="keep the converted model and telme's outputs here")
    parser.add_argument("--probe", action="store_true",
                        help="also measure how far deliberate preprocessing errors move the reference")
    args = parser.parse_args()
    if bool(args.model) == bool(args.checkpoints):
        parser.error("give exactly one of --model and --checkpoints")
    if args.checkpoints and not args.dataset:
        parser.error("--checkpoints needs --dataset")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    workdir = args.workdir or tempfile.mkdtemp(prefix="telme-refpipe-")
    os.makedirs(workdir, exist_ok=True)
    try:
        return run(args, workdir)
    except Failure as error:
        print(f"Tools.reference.pipeline: {error}", file=sys.stderr)
        return 2
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args, workdir):
    h5_path = args.model or export_checkpoints(args, workdir)
    telme_model = os.path.join(workdir, "model.telme")
    _, convert_seconds = telme(args.telme, "convert", h5_path, "-o", telme_model, *args.convert_arg)
    described = json.loads(telme(args.telme, "inspect", "--json", telme_model)[0].stdout)
    settings = described["model"]["settings"]
    fusion = described["model"].get("fusion") or {}
    labels = described["labels"]
    started = time.perf_counter()
    model = ReferenceModel(h5_path, fusion.get("num_heads", 1), fusion.get("beta_shift", 0.0), workdir)
    load_seconds = time.perf_counter() - started
    image_size = described["model"]["video"]["encoder"]["image_size"] if model.video is not None else 224
    pre = Preprocessor(settings, image_size)
    layout, rows = read_corpus(args.corpus, args.layout, args.media)
    print(f"corpus {args.corpus} ({layout}, {len(rows)} utterances), model {h5_path} "
          f"({described['dataset']}, {'+'.join(described['components'])})")
    print(f"settings: sample rate {settings['sample_rate']}, {settings['channel_order']}, fusion "
          f"{settings['fusion_order']}, over-limit {settings.get('zero_media_over_seconds')} s, missing media "
          f"{settings['missing_media']}, speaker numbering {settings['speaker_numbering']}")
    print(f"telme convert {convert_seconds:.2f} s; reference model load {load_seconds:.2f} s")
    print("labels: annotations.jsonl against the reference, end to end. |dp| end to end: p_* of telme annotate "
          "(final) and of telme annotate --text-only (text); model only: telme forward on the reference's own "
          "preprocessed inputs (records hold no student probabilities).")
    # The teacher's own probabilities end to end: a transcript-only run (independent semantics and
    # text-only, since official-batch4 or missing-media=zero would fuse zero student inputs).
    out_text = os.path.join(workdir, "telme-text-only")
    text_args = ["--model", telme_model, "--corpus", args.corpus, "--layout", layout, "--text-only",
                 "--batch-semantics", "independent", "--missing-media", "text-only", "--out", out_text]
    _, text_only_seconds = telme(args.telme, "annotate", *text_args, ok=(0, 1))
    text_records = read_records(out_text)
    failed = False
    independent = None
    for sem in [s.strip() for s in args.semantics.split(",") if s.strip()]:
        if sem not in ("independent", "official-batch4"):
            raise Failure(f"unknown semantics {sem}")
        ref, items, ids, timing = reference(rows, layout, model, pre, settings, sem)
        if sem == "independent":
            independent = ref
        common = ["--model", telme_model, "--corpus", args.corpus, "--layout", layout, "--batch-semantics", sem]
        if args.threads:
            common += ["--threads", str(args.threads)]
        out = os.path.join(workdir, f"telme-{sem}")
        media = ["--media", args.media] if args.media else []
        _, timing["annotate"] = telme(args.telme, "annotate", *common, *media, *args.annotate_arg, "--out", out,
                                      ok=(0, 1))
        with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
            timing["annotate_run_json"] = json.load(f)["seconds"]
        timing["text_only"] = text_only_seconds
        started = time.perf_counter()
        forward = forward_students(args.telme, telme_model, ids, items, sem == "official-batch4", workdir,
                                   model.tokenizer.pad_token_id)
        timing["forward"] = time.perf_counter() - started
        records = read_records(out)
        tallies, model_only, status = compare(rows, labels, ref, records, text_records, forward, sem)
        failed |= print_report(sem, tallies, model_only, status, timing, args.tolerance, records)
    if args.probe:
        if independent is None:
            independent = reference(rows, layout, model, pre, settings, "independent")[0]
        probe(rows, layout, model, settings, image_size, independent)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
