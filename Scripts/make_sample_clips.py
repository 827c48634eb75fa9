#!/usr/bin/env python3
"""Regenerates the bundled sample corpus's clips, Samples/corpus/clips/dia{D}_utt{U}.mp4.

One clip per row of Samples/corpus/sample.csv (MELD layout): espeak-ng speaks the utterance
with a voice per speaker, over a drawn face whose mouth moves with the speech and whose
expression follows the row's Emotion; each speaker has their own colours and the face drifts
slowly. The clips look like MELD's (H.264 in mp4, AAC at 48 kHz stereo) but are small:
320x240 at 12 fps. Each lasts the row's EndTime - StartTime, or longer when the speech needs it.

Needs the ffmpeg CLI and espeak-ng (Debian packages); uses only the standard library. The
drawing is evaluated per pixel by ffmpeg's geq filter: about a minute per clip.

    python3 Scripts/make_sample_clips.py
"""
import csv
import os
import subprocess
import sys
import tempfile
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV = os.path.join(ROOT, "Samples", "corpus", "sample.csv")
OUT = os.path.join(ROOT, "Samples", "corpus", "clips")

WIDTH, HEIGHT, FPS = 320, 240, 12

# espeak-ng voice variant and pitch per speaker; background (R, G, B) and shirt colour.
SPEAKERS = {
    "Ana": ("en-us+f3", 60, (70, 110, 160), (200, 60, 80)),
    "Ben": ("en-us+m3", 40, (90, 140, 90), (40, 70, 150)),
    "Cleo": ("en-gb+f4", 70, (150, 110, 70), (120, 50, 140)),
    "Dev": ("en-us+m7", 35, (60, 70, 90), (190, 150, 40)),
    "Eli": ("en-gb+m2", 50, (110, 90, 130), (50, 130, 120)),
    "Fay": ("en-us+f2", 65, (130, 140, 150), (180, 90, 40)),
}
DEFAULT_SPEAKER = ("en-us", 50, (100, 100, 100), (90, 90, 90))

# Mouth curve (positive: smile) and eyebrow slant (positive: frown) per emotion.
EXPRESSIONS = {
    "neutral": (0.0, 0.0), "joy": (1.0, -0.2), "surprise": (0.2, -0.6), "sadness": (-0.8, -0.4),
    "anger": (-0.5, 1.0), "fear": (-0.3, -0.8), "disgust": (-0.6, 0.6),
}


def seconds(timestamp: str) -> float:
    """MELD's `HH:MM:SS,mmm`."""
    clock, _, millis = timestamp.partition(",")
    h, m, s = (int(part) for part in clock.split(":"))
    return h * 3600 + m * 60 + s + int(millis or 0) / 1000


def speech_length(path: str) -> float:
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def face_filter(background, shirt, smile, brow, duration, loudness):
    """An ffmpeg `geq` drawing (RGB planes): a head drifting on a coloured background, eyes
    that blink, eyebrows, and a mouth that opens with the speech envelope `loudness`.
    (ffmpeg expressions have no comparison operators: lt(a,b) is a < b.)"""
    cx = "(W/2+18*sin(T*0.9))"
    cy = "(H/2-8+6*sin(T*1.3))"
    head = f"lt(hypot((X-{cx})/62,(Y-{cy})/76),1)"
    body = f"gt(Y,{cy}+70)*lt(abs(X-{cx}),95-0.3*(H-Y))"
    blink = "lt(mod(T,3.1),0.12)"
    eyes = "+".join(f"lt(hypot((X-{cx}-({dx}))/9,(Y-{cy}+18)/(9-8*{blink})),1)" for dx in (-24, 24))
    brows = "+".join(f"lt(abs(X-{cx}-({dx})),13)*lt(abs(Y-({cy}-34+{brow}*sgn({dx})*(X-{cx}-({dx}))/2)),2.5)"
                     for dx in (-24, 24))
    # Mouth: a curve (smile > 0 bends its ends up) whose opening follows the speech.
    curve = f"({cy}+36-{smile}*0.012*(X-{cx})*(X-{cx}))"
    mouth = f"lt(abs(X-{cx}),26)*lt(abs(Y-{curve}),1+(2+14*({loudness}))/2)"
    planes = {}
    for i, name in enumerate(("r", "g", "b")):
        skin = (225, 185, 150)[i]
        planes[name] = (f"if({mouth}*{head},60,if(({eyes}+{brows})*{head},30,"
                        f"if({head},{skin},if({body},{shirt[i]},{background[i]}+20*sin(X/40+T)))))")
    return (f"format=gbrp,geq=r='{planes['r']}':g='{planes['g']}':b='{planes['b']}',"
            f"format=yuv420p,trim=duration={duration:.3f}")


def envelope_expression(wav_path: str) -> str:
    """The speech loudness (0...1) as a sum of 10 Hz steps in T, silent after the speech."""
    with wave.open(wav_path) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
        width = w.getsampwidth()
    samples = [int.from_bytes(frames[i:i + width], "little", signed=True) for i in range(0, len(frames), width)]
    step = rate // 10
    terms = []
    for k, start in enumerate(range(0, len(samples), step)):
        chunk = samples[start:start + step]
        level = min(1.0, (sum(abs(s) for s in chunk) / max(len(chunk), 1)) / 4000)
        if level >= 0.01:
            terms.append(f"{level:.2f}*gte(T,{k / 10:.1f})*lt(T,{(k + 1) / 10:.1f})")
    return "+".join(terms) or "0"


def make_clip(row, tmp):
    dialogue, utterance = row["Dialogue_ID"], row["Utterance_ID"]
    voice, pitch, background, shirt = SPEAKERS.get(row["Speaker"], DEFAULT_SPEAKER)
    smile, brow = EXPRESSIONS.get(row.get("Emotion", "neutral"), (0.0, 0.0))
    wav = os.path.join(tmp, f"{dialogue}_{utterance}.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", "165", "-w", wav, row["Utterance"]],
                   check=True)
    duration = max(seconds(row["EndTime"]) - seconds(row["StartTime"]), speech_length(wav) + 0.25)
    loudness = envelope_expression(wav)
    out = os.path.join(OUT, f"dia{dialogue}_utt{utterance}.mp4")
    subprocess.run([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"color=black:size={WIDTH}x{HEIGHT}:rate={FPS}:duration={duration:.3f}",
        "-i", wav,
        "-filter_complex",
        f"[0:v]{face_filter(background, shirt, smile, brow, duration, loudness)}[v];"
        f"[1:a]aresample=48000,pan=stereo|c0=c0|c1=c0,apad=whole_dur={duration:.3f}[a]",
        "-map", "[v]", "-map", "[a]", "-t", f"{duration:.3f}",
        "-c:v", "libx264", "-preset", "veryslow", "-crf", "30", "-pix_fmt", "yuv420p", "-g", str(FPS * 2),
        "-c:a", "aac", "-b:a", "32k", "-movflags", "+faststart", "-map_metadata", "-1",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        out,
    ], check=True)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(CSV, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with tempfile.TemporaryDirectory() as tmp:
        paths = [make_clip(row, tmp) for row in rows]
    total = sum(os.path.getsize(p) for p in paths)
    print(f"wrote {len(paths)} clips, {total / 1024:.0f} KiB, to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
