#!/usr/bin/env python3
"""Media fixtures for Tests/TelmePipelineTests/Media*.swift: small real clips made with the
ffmpeg CLI (+ espeak-ng for speech), and what the authors' Python preprocessing makes of them.

The reference follows TelME's MELD/utils.py and IEMOCAP/utils.py (read, not copied):
  audio  librosa.load(path) (sr=22050, mono, soxr_hq; mp4 goes through audioread = ffmpeg CLI
         s16le) -> Wav2Vec2FeatureExtractor(do_normalize=True) -> last 400000 samples;
  video  cv2.VideoCapture, the authors' frame loops, VideoMAEImageProcessor (transformers
         4.27.2: shortest edge 224 with PIL bilinear, centre crop 224, 1/255, ImageNet mean/std).

Big arrays are not committed whole: frames and crops are checked through an FNV-1a 64 hash of
all their bytes plus every 4th row and column; tensors through every 8th pixel. Audio is stored
whole (float32 little endian). Run with the project venv:

    /work/venv/bin/python Scripts/make_media_fixtures.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import cv2
import librosa
import numpy as np
import PIL
import transformers
from transformers import VideoMAEImageProcessor, Wav2Vec2FeatureExtractor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TelmePipelineTests", "Fixtures", "media")

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
FRAMES = 8
MAX_AUDIO = 400000

# The processors as the authors' checkpoints load them (MCG-NJU/videomae-base and
# facebook/data2vec-audio-base-960h preprocessor configs), built offline.
VIDEO_PROCESSOR = VideoMAEImageProcessor(
    do_resize=True, size={"shortest_edge": 224}, resample=PIL.Image.BILINEAR,
    do_center_crop=True, crop_size={"height": 224, "width": 224},
    do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
    image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)
AUDIO_PROCESSOR = Wav2Vec2FeatureExtractor(
    feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
    return_attention_mask=True)


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ffmpeg(*args):
    run("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args)


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    arr = np.frombuffer(data, dtype=np.uint8)
    # Vectorised in chunks would change the result; FNV is sequential. Keep it simple but fast
    # enough: process with Python ints over a bytes object.
    for b in arr.tobytes():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def sub4(image: np.ndarray) -> np.ndarray:
    """Every 4th row and column of an HxWxC uint8 image."""
    return np.ascontiguousarray(image[::4, ::4, :])


def write(name: str, array: np.ndarray):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(np.ascontiguousarray(array).tobytes())
    return name


# ---------------------------------------------------------------- clips

def speech(text: str, path: str):
    run("espeak-ng", "-w", path, text)


def make_clips(tmp: str):
    s1 = os.path.join(tmp, "s1.wav")
    s2 = os.path.join(tmp, "s2.wav")
    speech("Morning! Did you see the package by the door?", s1)
    speech("We don't have a cat.", s2)
    # 2 s, 320x240, 25 fps h264 + AAC 48 kHz stereo whose channels differ (tests the mean).
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-i", s1,
           "-filter_complex", "[1:a]aresample=48000,pan=stereo|c0=c0|c1=0.6*c0,adelay=0|150[a]",
           "-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "32",
           "-g", "25", "-c:a", "aac", "-b:a", "48k", "-t", "2",
           os.path.join(OUT, "speech_av.mp4"))
    # No audio stream.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "35", os.path.join(OUT, "video_only.mp4"))
    # No video stream (AAC in mp4).
    ffmpeg("-i", s2, "-ac", "1", "-ar", "24000", "-c:a", "aac", "-b:a", "24k", "-t", "0.8",
           os.path.join(OUT, "audio_only.mp4"))
    # Six frames (< 8), with audio.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-i", s2, "-frames:v", "6",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "35", "-c:a", "aac", "-b:a", "24k",
           "-ac", "1", "-t", "0.24", os.path.join(OUT, "short6.mp4"))
    # 16 kHz stereo 16-bit wav (libsndfile path: no 16-bit step, channels averaged).
    ffmpeg("-i", s2, "-filter_complex", "aresample=16000,pan=stereo|c0=c0|c1=-0.5*c0", "-t", "1.0",
           "-c:a", "pcm_s16le", os.path.join(OUT, "speech16k.wav"))
    # 31 s (over the 30 s rule), tiny.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=2:duration=31",
           "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=8000:duration=31",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "40", "-c:a", "aac", "-b:a", "6k",
           "-ac", "1", "-shortest", os.path.join(OUT, "long31.mp4"))
    # A dialogue video at 29.97 fps (IEMOCAP-like), keyframe every second, for the window rule.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=30000/1001:duration=12",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "30", "-crf", "35", "-preset", "veryslow",
           os.path.join(OUT, "dialogue.mp4"))
    # A display matrix (rotate=90): OpenCV 4.11 reports it (CAP_PROP_ORIENTATION_META 270) but,
    # with CAP_PROP_ORIENTATION_AUTO off by default, returns the frames as stored.
    upright = os.path.join(tmp, "upright.mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x96:rate=25", "-frames:v", "10",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "35", upright)
    ffmpeg("-i", upright, "-c", "copy", "-metadata:s:v:0", "rotate=90", os.path.join(OUT, "rotated.mp4"))
    # Width/height not multiples of 16 (coded size larger than the picture).
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=330x246:rate=25", "-frames:v", "9",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "38", os.path.join(OUT, "odd_size.mp4"))
    # Broken inputs.
    open(os.path.join(OUT, "zero.mp4"), "wb").close()
    rng = np.random.default_rng(7)
    with open(os.path.join(OUT, "garbage.mp4"), "wb") as f:
        f.write(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    # moov at the end, file cut in half: no index -> cannot open.
    with open(os.path.join(OUT, "speech_av.mp4"), "rb") as f:
        whole = f.read()
    with open(os.path.join(OUT, "truncated_moov.mp4"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    # moov first (faststart), media data cut: opens, decodes part of the frames.
    faststart = os.path.join(tmp, "fast.mp4")
    ffmpeg("-i", os.path.join(OUT, "video_only.mp4"), "-c", "copy", "-movflags", "+faststart", faststart)
    with open(faststart, "rb") as f:
        whole = f.read()
    with open(os.path.join(OUT, "truncated_data.mp4"), "wb") as f:
        f.write(whole[: int(len(whole) * 0.8)])


# ---------------------------------------------------------------- reference: audio

def audio_slices(name: str):
    """librosa.load with offset/duration and other rates: what MediaFile.audio(start:end:) matches."""
    path = os.path.join(OUT, name)
    cases = []
    for sr, offset, duration in [(22050, 0.5, 1.0), (22050, 1.2, None), (22050, 0.0, 0.3337), (16000, 0.0, None),
                                 (16000, 0.25, 0.5), (44100, 0.1, 0.4)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y, _ = librosa.load(path, sr=sr, offset=offset, duration=duration)
        cases.append({"sr": sr, "offset": offset, "duration": duration, "samples": int(len(y)),
                      "fnv": fnv1a64(y.astype("<f4").tobytes())})
    return cases


def audio_reference(name: str):
    path = os.path.join(OUT, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, sr = librosa.load(path)
    assert sr == 22050 and y.dtype == np.float32
    normalised = AUDIO_PROCESSOR(y, sampling_rate=16000, return_tensors="np")["input_values"][0]
    model_input = normalised[-MAX_AUDIO:]
    base = name.replace(".", "_")
    entry = {
        "samples": int(len(y)),
        "duration": float(librosa.get_duration(y=y, sr=sr)),
        "over30": bool(librosa.get_duration(y=y, sr=sr) > 30),
        "sum_bits": int(np.add.reduce(y).view(np.uint32)),
        "mean_bits": int(np.float32(y.mean()).view(np.uint32)),
        "var_bits": int(np.float32(y.var()).view(np.uint32)),
    }
    entry["input_fnv"] = fnv1a64(model_input.astype("<f4").tobytes())
    entry["input_head"] = [float(v) for v in model_input[:8]]
    if len(y) <= 50000:
        entry["librosa"] = write(base + ".librosa.f32", y.astype("<f4"))
    else:
        entry["head"] = [float(v) for v in y[:16]]
    return entry


# ---------------------------------------------------------------- reference: video

def meld_get_video(path):
    """The authors' MELD frame loop, also returning the frame numbers it kept."""
    video = cv2.VideoCapture(path)
    length = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    frames, numbers = [], []
    step = length // 8
    count = 0
    if length >= 8:
        while video.isOpened():
            ret, image = video.read()
            if not ret:
                break
            count += 1
            if count % step == 0:
                frames.append(image)
                numbers.append(count)
    else:
        while video.isOpened():
            ret, image = video.read()
            if not ret:
                break
            count += 1
            frames.append(image)
            numbers.append(count)
        if frames:
            frames.extend(frames[-1].copy() for _ in range(8 - len(frames)))
            numbers.extend(numbers[-1] for _ in range(8 - len(numbers)))
    video.release()
    return length, frames[:8], numbers[:8]


def iemocap_get_video(path, start_time, end_time):
    """The authors' IEMOCAP frame loop, returning (fps, kept frames, their numbers) or the error."""
    video = cv2.VideoCapture(path)
    fps = video.get(cv2.CAP_PROP_FPS)
    time_start = max(float(start_time) - 1, 0)
    time_end = float(end_time) + 1
    length = fps * (time_end - time_start)
    frames, numbers = [], []
    step = length // 8
    count = 0
    try:
        while video.isOpened():
            ret, image = video.read()
            if not ret:
                break
            n = int(video.get(1))
            if n >= fps * time_start and n <= fps * time_end:
                count += 1
                if count % step == 0:
                    frames.append(image)
                    numbers.append(n)
        video.release()
        if len(frames) < 8:
            last = frames[-1]
            frames.extend(last.copy() for _ in range(8 - len(frames)))
            numbers.extend(numbers[-1] for _ in range(8 - len(numbers)))
        return fps, frames[:8], numbers[:8], None
    except Exception as error:  # noqa: BLE001 - the authors catch everything too
        return fps, [], [], type(error).__name__


def crop(image):
    resized = VIDEO_PROCESSOR.resize(image, size={"shortest_edge": 224}, resample=PIL.Image.BILINEAR)
    return VIDEO_PROCESSOR.center_crop(resized, size={"height": 224, "width": 224})


def frame_entry(image, number, base, i, keep_sub):
    entry = {"number": int(number), "width": int(image.shape[1]), "height": int(image.shape[0]),
             "fnv": fnv1a64(image.tobytes())}
    if keep_sub:
        entry["sub4"] = write(f"{base}.frame{i}.sub4.u8", sub4(image))
    return entry


def video_reference(name: str, detailed=False):
    """OpenCV's decode of every frame (hashes), the MELD selection, the crops and the tensor.
    `detailed` also stores pixels (every 4th row/column) of two frames and two crops and every 8th
    pixel of the tensor, to measure differences rather than only detect them."""
    path = os.path.join(OUT, name)
    capture = cv2.VideoCapture(path)
    info = {"declared": int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), "fps": float(capture.get(cv2.CAP_PROP_FPS)),
            "width": int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), "height": int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))}
    all_frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        all_frames.append(image)
    capture.release()
    info["decoded"] = len(all_frames)
    info["all_fnv"] = [fnv1a64(f.tobytes()) for f in all_frames]
    length, frames, numbers = meld_get_video(path)
    base = name.replace(".", "_")
    info["numbers"] = numbers
    info["frames"] = [frame_entry(f, n, base, i, detailed and i in (0, 7)) for i, (f, n) in enumerate(zip(frames, numbers))]
    if len(frames) == 8:
        crops = [crop(f) for f in frames]
        info["crops"] = [{"fnv": fnv1a64(c.tobytes())} for c in crops]
        if detailed:
            for i in (0, 7):
                info["crops"][i]["sub4"] = write(f"{base}.crop{i}.sub4.u8", sub4(crops[i]))
        pixels = VIDEO_PROCESSOR(frames, return_tensors="np")["pixel_values"][0]
        assert pixels.shape == (8, 3, 224, 224) and pixels.dtype == np.float32
        if detailed:
            info["tensor_sub8"] = write(f"{base}.tensor.sub8.f32", pixels[:, :, ::8, ::8].astype("<f4"))
        info["tensor_sum"] = float(pixels.astype(np.float64).sum())
    return info


def all_frame_hashes(name: str):
    capture = cv2.VideoCapture(os.path.join(OUT, name))
    hashes = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        hashes.append(fnv1a64(image.tobytes()))
    return hashes


def window_reference(name: str, cases):
    path = os.path.join(OUT, name)
    results = []
    for start, end in cases:
        fps, frames, numbers, error = iemocap_get_video(path, start, end)
        results.append({"start": start, "end": end, "fps": fps, "numbers": numbers, "error": error,
                        "fnv": [fnv1a64(f.tobytes()) for f in frames]})
    return results


# ---------------------------------------------------------------- reference: resize alone

def synthetic(width, height, seed):
    """A test picture both sides compute with integers: gradients, 16-px checks, hashed noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.uint64)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    for c in range(3):
        i = (y * width + x) * 3 + c
        h = (i * 2654435761 + seed) & 0xFFFFFFFF
        h ^= h >> 15
        h = (h * 2246822519) & 0xFFFFFFFF
        h ^= h >> 13
        noise = h >> 24
        base = ((x * 255) // max(width - 1, 1) + (y * 131) // max(height - 1, 1) + c * 85) & 255
        checker = ((x // 16 + y // 16) % 2) == 0
        base = np.where(checker, base, 255 - base)
        out[:, :, c] = ((base * 3 + noise) // 4).astype(np.uint8)
    return out


def resize_reference():
    cases = []
    for width, height, seed in [(320, 240, 1), (160, 120, 2), (1280, 720, 3), (240, 320, 4), (330, 246, 5),
                                (224, 300, 6), (225, 225, 7), (97, 61, 8), (1920, 1080, 9), (301, 224, 10)]:
        image = synthetic(width, height, seed)
        resized = VIDEO_PROCESSOR.resize(image, size={"shortest_edge": 224}, resample=PIL.Image.BILINEAR)
        cropped = VIDEO_PROCESSOR.center_crop(resized, size={"height": 224, "width": 224})
        name = f"resize_{width}x{height}"
        cases.append({"width": width, "height": height, "seed": seed,
                      "input_fnv": fnv1a64(image.tobytes()),
                      "resized_width": int(resized.shape[1]), "resized_height": int(resized.shape[0]),
                      "fnv": fnv1a64(cropped.tobytes()), "sub4": write(name + ".sub4.u8", sub4(cropped))})
    return cases


# ---------------------------------------------------------------- reference: selection rules

def selection_reference():
    """The authors' loops over synthetic frame sequences: MELD for L (declared) x N (decoded),
    IEMOCAP for a few (fps, start, end, N)."""
    meld = []
    for declared in range(-1, 34):
        for decoded in range(0, 40):
            step = declared // 8
            kept = []
            if declared >= 8:
                for count in range(1, decoded + 1):
                    if count % step == 0:
                        kept.append(count)
            else:
                kept = list(range(1, decoded + 1))
            meld.append([declared, decoded, kept[:8]])
    window = []
    for fps in [25.0, 29.97002997002997, 30.0, 12.5, 1.0]:
        for start, end in [(0.0, 0.4), (0.5, 2.0), (3.27, 5.91), (10.0, 10.0), (7.123, 9.5)]:
            for decoded in [0, 20, 150, 400]:
                time_start = max(float(start) - 1, 0)
                time_end = float(end) + 1
                length = fps * (time_end - time_start)
                step = length // 8
                kept, count, error = [], 0, None
                try:
                    for n in range(1, decoded + 1):
                        if n >= fps * time_start and n <= fps * time_end:
                            count += 1
                            if count % step == 0:
                                kept.append(n)
                except ZeroDivisionError:
                    error = "ZeroDivisionError"
                window.append({"fps": fps, "start": start, "end": end, "decoded": decoded,
                               "kept": kept[:8], "error": error})
    return {"meld": meld, "window": window}


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    with tempfile.TemporaryDirectory() as tmp:
        make_clips(tmp)
    reference = {
        "versions": {"librosa": librosa.__version__, "opencv": cv2.__version__, "pillow": PIL.__version__,
                     "numpy": np.__version__, "transformers": transformers.__version__,
                     "ffmpeg": subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]},
        "audio": {name: audio_reference(name) for name in
                  ["speech_av.mp4", "speech16k.wav", "short6.mp4", "audio_only.mp4", "long31.mp4"]},
        "video": {name: video_reference(name, detailed=(name == "speech_av.mp4")) for name in
                  ["speech_av.mp4", "short6.mp4", "video_only.mp4", "rotated.mp4", "odd_size.mp4", "truncated_data.mp4"]},
        "audio_slices": {name: audio_slices(name) for name in ["speech_av.mp4", "speech16k.wav"]},
        "dialogue_all_fnv": all_frame_hashes("dialogue.mp4"),
        "window": window_reference("dialogue.mp4", [(0.5, 2.0), (5.3, 7.9), (10.2, 11.9), (0.0, 0.3), (3.05, 3.4), (20.0, 21.0)]),
        "resize": resize_reference(),
        "selection": selection_reference(),
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(reference, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.0f} KiB, to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
