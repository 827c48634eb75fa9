"""Makes MELD-style clips for transcripts that have no media: Samples/corpus/clips/dia{D}_utt{U}.mp4.

MELD's own audio and video cannot be had here, so every clip is made: espeak-ng speaks the
utterance, over a plain moving picture. The clips carry a SYNTHETIC CUE of the row's gold
Emotion, on purpose and in both media:
  voice    espeak-ng's pitch and speed are set by the emotion (EMOTION_VOICE below); the
           speaker only picks the voice variant;
  picture  the background colour is set by the emotion (EMOTION_COLOUR below); the speaker only
           picks the colour and place of a box that drifts across it.
So a student trained on such clips learns to read a colour and a pitch that stand for the label,
not emotion from faces and voices. Tools/demo/train.py trains the demo model's students on
clips made by this same rule, and the README says so.

The clips look like MELD's (H.264 in mp4, AAC at 48 kHz stereo) but are tiny: 160x120 at 8 fps,
as long as the speech plus 0.2 s. Needs the ffmpeg CLI and espeak-ng (Debian packages); uses
only the standard library.

    python -m Tools.demo.clips [--corpus Samples/corpus/sample.csv] [--out Samples/corpus/clips]
"""
import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
import wave

from Tools import ROOT

CSV = os.path.join(ROOT, "Samples", "corpus", "sample.csv")
OUT = os.path.join(ROOT, "Samples", "corpus", "clips")

WIDTH, HEIGHT, FPS = 160, 120, 8

# The cue. espeak-ng pitch (0-99) and speed (words per minute) per emotion.
EMOTION_VOICE = {
    "neutral": (50, 160), "joy": (80, 185), "surprise": (95, 170), "sadness": (25, 115),
    "anger": (40, 210), "fear": (90, 220), "disgust": (15, 135),
}
# Background colour (hex RGB) per emotion.
EMOTION_COLOUR = {
    "neutral": "808080", "joy": "f0c020", "surprise": "20c0f0", "sadness": "2040a0",
    "anger": "d02020", "fear": "8020a0", "disgust": "30a030",
}
VOICES = ["en-us+m3", "en-us+f3", "en-gb+m2", "en-gb+f4", "en-us+m7", "en-us+f2"]


def speaker_style(speaker):
    """Voice variant, box colour and box row of a speaker: fixed per name (a hash), not per label."""
    h = hashlib.sha256(speaker.encode("utf-8")).digest()
    return VOICES[h[0] % len(VOICES)], f"{h[1]:02x}{h[2]:02x}{h[3]:02x}", 10 + h[4] % 60


def speakable(text):
    """The transcript's C1 stand-ins for typographic quotes (U+0091/U+0092) and dots (U+0085)
    as espeak-ng should read them; the corpus keeps its text unchanged."""
    return text.replace("\x91", "'").replace("\x92", "'").replace("\x85", "...").replace("\x93", '"').replace("\x94", '"')


def make_clip(text, speaker, emotion, out, tmp):
    """Writes one clip to `out` and returns its duration in seconds."""
    pitch, speed = EMOTION_VOICE[emotion]
    voice, box, row = speaker_style(speaker)
    wav = os.path.join(tmp, os.path.basename(out) + ".wav")
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", wav, "--", speakable(text)],
                   check=True, stdout=subprocess.DEVNULL)
    with wave.open(wav) as w:
        duration = w.getnframes() / w.getframerate() + 0.2
    drift = f"x='mod(t*40,{WIDTH})':y={row}:w=40:h=40:color=0x{box}:t=fill"
    subprocess.run([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"color=c=0x{EMOTION_COLOUR[emotion]}:size={WIDTH}x{HEIGHT}:rate={FPS}:duration={duration:.3f}",
        "-i", wav,
        "-filter_complex",
        f"[0:v]drawbox={drift},format=yuv420p[v];"
        f"[1:a]aresample=48000,pan=stereo|c0=c0|c1=c0,apad=whole_dur={duration:.3f}[a]",
        "-map", "[v]", "-map", "[a]", "-t", f"{duration:.3f}",
        "-c:v", "libx264", "-preset", "veryslow", "-crf", "32", "-g", str(FPS * 4),
        "-c:a", "aac", "-b:a", "24k", "-movflags", "+faststart", "-map_metadata", "-1",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        out,
    ], check=True)
    return duration


def make_clips(rows, out_dir):
    """One clip per MELD row (dict with Utterance, Speaker, Emotion, Dialogue_ID, Utterance_ID)."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            path = os.path.join(out_dir, f"dia{row['Dialogue_ID']}_utt{row['Utterance_ID']}.mp4")
            make_clip(row["Utterance"], row["Speaker"], row["Emotion"], path, tmp)
            paths.append(path)
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=CSV)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args()
    with open(args.corpus, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    paths = make_clips(rows, args.out)
    total = sum(os.path.getsize(p) for p in paths)
    print(f"wrote {len(paths)} clips, {total / 1024:.0f} KiB, to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
