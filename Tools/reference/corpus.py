"""Corpora for Tools/reference/pipeline.py, made with the ffmpeg CLI and espeak-ng.

    python -m Tools.reference.corpus varied OUT      # MELD layout: OUT/corpus.csv + OUT/clips/
                                                     # and IEMOCAP layout: OUT/iemocap/corpus.csv
    python -m Tools.reference.corpus clips CSV OUT   # one plain clip per row of a MELD CSV

(Random models to run on them: Tools/reference/random_model.py.)

`varied` mixes what real corpora throw at a pipeline: frame sizes from 176x144 to 1280x720
(portrait and odd sizes included), 6 to 31 fps (NTSC rates included), H.264 and MPEG-4 part 2,
AAC audio in stereo at 44.1 and 48 kHz (channels that differ, so the downmix matters) and mono
at other rates, a clip of 6 frames (< 8), clips of exactly 8, 9 and 17 frames, a 20-s clip
(more than 400000 samples at 22050 Hz) and a 31-s clip (over the 30-s rule), and a dialogue
with ten speakers (speaker numbers past <s9>), and a dialogue of damaged media (no clip, a
corrupt clip, a clip without audio, a clip without video), and one of container layouts (a
stream-copy cut with an edit list, variable frame rate, 5.1 audio, two audio streams, audio
starting late, 8 kHz mono). The IEMOCAP part has one 29.97 fps dialogue
video and 16 kHz utterance wavs. `clips` stands in for Samples/corpus/clips when it is absent.
Everything is deterministic for a given ffmpeg/espeak-ng.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
IEMOCAP_LABELS = ["ang", "exc", "fru", "hap", "neu", "sad"]
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-us+m3", "en-gb-x-rp+f2"]


def run(*args):
    result = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"Tools.reference.corpus: {args[0]} failed: {result.stderr.strip()[-400:]}")


def ffmpeg(*args):
    run("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args)


def speech(text, voice, path):
    run("espeak-ng", "-v", voice, "-s", "165", "-w", path, text)


def clip_table(table):
    """Clip specs from a table of one clip a line: picture source, size, frame rate, length
    (seconds `2.2s` or a frame count `6f`), video codec, sound rate, and the pan filter that
    makes the stereo channels differ (`mono`: one channel). `#` lines are comments."""
    specs = []
    for line in table.strip().splitlines():
        if line.startswith("#"):
            continue
        src, size, rate, length, vcodec, ar, mix = line.split()
        spec = dict(src=src, size=size, rate=rate, vcodec=vcodec, ar=int(ar), ac=1 if mix == "mono" else 2)
        if length.endswith("f"):
            spec["frames"] = int(length[:-1])
        else:
            spec["seconds"] = float(length[:-1])
        if mix != "mono":
            spec["mix"] = mix
        specs.append(spec)
    return specs


VARIED = clip_table("""
# dialogue 0
testsrc2     320x240   25          2.2s   h264   48000  c0=c0|c1=0.6*c0
mandelbrot   640x360   30000/1001  2.6s   h264   44100  c0=0.8*c0|c1=-0.5*c0
testsrc2     360x640   30          1.9s   h264   48000  c0=c0|c1=0.2*c0
smptehdbars  320x180   25          6f     h264   44100  mono
# dialogue 1
testsrc2     160x120   10          31.0s  h264   44100  c0=c0|c1=0.7*c0
life         176x144   15          20.0s  h264   48000  c0=c0|c1=0.3*c0
mandelbrot   1280x720  24          1.5s   h264   48000  c0=0.5*c0|c1=c0
testsrc2     330x246   12.5        2.4s   h264   44100  c0=c0|c1=0.9*c0
# dialogue 2
testsrc2     256x144   8           8f     h264   22050  mono
smptehdbars  200x150   9           9f     h264   16000  mono
testsrc2     240x320   10          17f    h264   44100  c0=c0|c1=0.4*c0
mandelbrot   352x288   24000/1001  2.0s   mpeg4  44100  c0=c0|c1=0.5*c0
""")

VARIED_TEXT = [
    ("Ana", "Morning! Did you see the package by the door?"),
    ("Ben", "No, I didn't. Is it the \"new\" lamp?"),
    ("Ana", "It is! I\u0092ve waited three weeks, for it."),
    ("Ben", "Open it."),
    ("Cleo", "Who parked in my spot again? I have been circling the block for half an hour."),
    ("Dev", "Sorry, that was me. I'll move it right now, I promise, just let me find my keys somewhere "
            "in this mess of a flat, they were here a minute ago."),
    ("Cleo", "You said that yesterday, too."),
    ("Ana", "Hey, what's going on out here?"),
    ("Eli", "Did you hear that noise?"),
    ("Fay", "It's just the cat."),
    ("Eli", "We don't have a cat."),
    ("Fay", "Ugh, the milk went sour again."),
]


def clip(spec, text, voice, out, tmp):
    wav = os.path.join(tmp, "speech.wav")
    speech(text, voice, wav)
    picture = f"{spec['src']}=size={spec['size']}:rate={spec['rate']}"
    if spec["src"] == "life":
        picture += ":mold=10:ratio=0.3"
    if "frames" in spec:
        num, _, den = spec["rate"].partition("/")
        seconds = spec["frames"] / (float(num) / float(den or 1))
        trim = f"[0:v]trim=end_frame={spec['frames']},setpts=PTS-STARTPTS[v];"
    else:
        seconds = spec["seconds"]
        trim = "[0:v]null[v];"
    pan = f"pan=stereo|{spec['mix']}" if spec["ac"] == 2 else "pan=mono|c0=c0"
    # Speech after 0.1 s, then low noise up to the end (the clip never ends in digital silence).
    audio = (trim + f"[1:a]aresample={spec['ar']},adelay=100,apad[s];"
             f"anoisesrc=color=pink:amplitude=0.01:seed=3:sample_rate={spec['ar']}[n];"
             f"[s][n]amix=inputs=2:duration=shortest:normalize=0,{pan}[a]")
    video = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "30", "-preset", "veryfast"]
    if spec["vcodec"] == "mpeg4":
        video = ["-c:v", "mpeg4", "-q:v", "6"]
    ffmpeg("-f", "lavfi", "-i", picture, "-i", wav, "-filter_complex", audio,
           "-map", "[v]", "-map", "[a]", *video, "-c:a", "aac", "-b:a", "64k",
           "-ar", str(spec["ar"]), "-t", f"{seconds:.4f}", out)


def containers(clips, tmp):
    """Dialogue 5: container and stream layouts that decoders treat differently."""
    texts = [("Kim", "Start where you left off."), ("Lou", "The timing here is irregular."),
             ("Kim", "Surround sound, six channels."), ("Lou", "Two audio tracks in one file."),
             ("Kim", "The sound starts late."), ("Lou", "Telephone quality.")]
    wavs = []
    for k, (_, text) in enumerate(texts):
        wavs.append(os.path.join(tmp, f"c{k}.wav"))
        speech(text, VOICES[k % len(VOICES)], wavs[-1])
    out = [os.path.join(clips, f"dia5_utt{u}.mp4") for u in range(len(texts))]
    h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "30", "-preset", "veryfast"]
    noise = "anoisesrc=color=pink:amplitude=0.01:seed=5:sample_rate=48000"
    # 0: cut by stream copy at 1.37 s of a 4 s clip: starts at the keyframe before, with an edit list.
    whole = os.path.join(tmp, "whole.mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4", "-i", wavs[0], "-filter_complex",
           "[1:a]aresample=48000,adelay=1400,apad,pan=stereo|c0=c0|c1=0.5*c0[a]", "-map", "0:v", "-map", "[a]",
           *h264, "-g", "25", "-c:a", "aac", "-t", "4", whole)
    ffmpeg("-ss", "1.37", "-i", whole, "-c", "copy", "-t", "2.2", out[0])
    # 1: variable frame rate (timestamps stretched every other second).
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2.5", "-i", wavs[1], "-filter_complex",
           "[0:v]setpts='N/25/TB+if(gt(N,25),0.02*(N-25)/TB,0)'[v];[1:a]aresample=44100,apad[a]",
           "-map", "[v]", "-map", "[a]", *h264, "-fps_mode", "vfr", "-c:a", "aac", "-t", "3.5", out[1])
    # 2: 5.1 audio whose channels differ.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2.2", "-i", wavs[2], "-filter_complex",
           "[1:a]aresample=48000,apad,pan=5.1|c0=c0|c1=0.5*c0|c2=0.8*c0|c3=0.1*c0|c4=-0.3*c0|c5=0.2*c0[a]",
           "-map", "0:v", "-map", "[a]", *h264, "-c:a", "aac", "-t", "2.2", out[2])
    # 3: two audio streams, stereo first, then 5.1 (the ffmpeg CLI picks the one with more channels).
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2.2", "-i", wavs[3], "-filter_complex",
           "[1:a]aresample=44100,apad,asplit[x][y];[x]pan=stereo|c0=c0|c1=0.4*c0[a];"
           f"{noise}[n];[y]aresample=48000[y2];[y2][n]amix=inputs=2:duration=first:normalize=0,"
           "pan=5.1|c0=0.1*c0|c1=0.9*c0|c2=c0|c3=0.3*c0|c4=0.5*c0|c5=-0.2*c0[b]",
           "-map", "0:v", "-map", "[a]", "-map", "[b]", *h264, "-c:a", "aac", "-t", "2.2", out[3])
    # 4: the audio stream starts 0.6 s after the video.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2.5", "-itsoffset", "0.6", "-i", wavs[4],
           "-map", "0:v", "-map", "1:a", *h264, "-c:a", "aac", "-ar", "48000", "-ac", "2", out[4])
    # 5: 8 kHz mono.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=176x144:rate=15:duration=2", "-i", wavs[5], "-filter_complex",
           "[1:a]aresample=8000,apad[a]", "-map", "0:v", "-map", "[a]", *h264, "-c:a", "aac", "-ac", "1",
           "-t", "2", out[5])
    return [(speaker, text)[::-1] for speaker, text in texts]


def timestamp(seconds):
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}".replace(".", ",")


def varied(out):
    clips = os.path.join(out, "clips")
    os.makedirs(clips, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, spec in enumerate(VARIED):
            dialogue, utterance = divmod(k, 4)
            speaker, text = VARIED_TEXT[k]
            clip(spec, text, VOICES[k % len(VOICES)], os.path.join(clips, f"dia{dialogue}_utt{utterance}.mp4"), tmp)
            rows.append((text, speaker, LABELS[k % 7], dialogue, utterance))
        # Ten speakers in one dialogue: <s10> is plain text for the tokenizer.
        for u in range(10):
            text = f"Speaker number {u + 1} says hi, and that's all."
            spec = dict(src="testsrc2", size="160x120", rate="25", seconds=1.2, vcodec="h264", ar=44100, ac=2,
                        mix="c0=c0|c1=0.5*c0")
            clip(spec, text, VOICES[u % len(VOICES)], os.path.join(clips, f"dia3_utt{u}.mp4"), tmp)
            rows.append((text, f"Person{u}", LABELS[(u * 3) % 7], 3, u))
        # Damaged media: no clip, a corrupt clip, no audio stream, no video stream.
        damaged = [("Is anyone there?", "Gus"), ("Hello?", "Hana"), ("I can see you.", "Gus"),
                   ("But you can hear me.", "Hana")]
        with open(os.path.join(clips, "dia4_utt1.mp4"), "wb") as f:
            f.write(bytes((k * 7919 + 13) % 256 for k in range(4000)))
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1.5", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", "-crf", "32", os.path.join(clips, "dia4_utt2.mp4"))
        wav = os.path.join(tmp, "speech.wav")
        speech(damaged[3][0], "en-us", wav)
        ffmpeg("-i", wav, "-ac", "2", "-ar", "44100", "-c:a", "aac", "-b:a", "64k", os.path.join(clips, "dia4_utt3.mp4"))
        for u, (text, speaker) in enumerate(damaged):
            rows.append((text, speaker, LABELS[u], 4, u))
        for u, (text, speaker) in enumerate(containers(clips, tmp)):
            rows.append((text, speaker, LABELS[(u + 2) % 7], 5, u))
    with open(os.path.join(out, "corpus.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
                    "Season", "Episode", "StartTime", "EndTime"])
        for n, (text, speaker, emotion, dialogue, utterance) in enumerate(rows):
            w.writerow([n + 1, text, speaker, emotion, "neutral", dialogue, utterance, 1, 1,
                        timestamp(n * 10.0), timestamp(n * 10.0 + 3)])
    iemocap(os.path.join(out, "iemocap"))
    print(f"wrote {out}/corpus.csv ({len(rows)} utterances) and {out}/iemocap/corpus.csv")


def iemocap(out):
    """One dialogue video (29.97 fps, 14 s) and 16 kHz mono utterance wavs; times in seconds."""
    os.makedirs(os.path.join(out, "wav"), exist_ok=True)
    os.makedirs(os.path.join(out, "video"), exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=480x360:rate=30000/1001:duration=14", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-crf", "32", "-g", "30", "-preset", "veryfast",
           os.path.join(out, "video", "Ses01F_impro01.mp4"))
    times = [(0.3, 2.1), (2.4, 5.0), (5.2, 6.0), (6.5, 9.9), (10.2, 13.6)]
    texts = ["Excuse me.", "Do you have your forms?", "Yeah.", "Let me see them.", "Is there a problem?"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, ((start, end), text) in enumerate(zip(times, texts)):
            uid = f"Ses01F_impro01_{'FM'[k % 2]}{k:03d}"
            wav = os.path.join(tmp, "s.wav")
            speech(text, VOICES[k % 2], wav)
            ffmpeg("-i", wav, "-af", "aresample=16000,apad", "-t", f"{end - start:.3f}", "-ac", "1",
                   "-c:a", "pcm_s16le", os.path.join(out, "wav", uid + ".wav"))
            rows.append([text, uid, IEMOCAP_LABELS[k % 6], "Ses01F_impro01", start, end,
                         f"wav/{uid}.wav", "video/Ses01F_impro01.mp4"])
    with open(os.path.join(out, "corpus.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Utterance", "Speaker", "Emotion", "Dialogue_ID", "Start_Time", "End_Time", "Wav_Path",
                    "Video_Path"])
        w.writerows(rows)


def clips_for(csv_path, out):
    """A plain clip per row (320x240, 25 fps, speech of the row's text, 48 kHz stereo AAC)."""
    os.makedirs(out, exist_ok=True)
    with open(csv_path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    with tempfile.TemporaryDirectory() as tmp:
        for k, row in enumerate(rows):
            spec = dict(src="testsrc2", size="320x240", rate="25", seconds=2.0, vcodec="h264", ar=48000, ac=2,
                        mix="c0=c0|c1=0.6*c0")
            name = f"dia{row['Dialogue_ID']}_utt{row['Utterance_ID']}.mp4"
            clip(spec, row["Utterance"], VOICES[k % len(VOICES)], os.path.join(out, name), tmp)
    print(f"wrote {len(rows)} clips to {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("varied", help="the varied MELD + IEMOCAP corpus")
    v.add_argument("out")
    c = sub.add_parser("clips", help="plain clips for the rows of a MELD CSV")
    c.add_argument("csv")
    c.add_argument("out")
    args = parser.parse_args()
    if args.command == "varied":
        varied(args.out)
    else:
        clips_for(args.csv, args.out)


if __name__ == "__main__":
    main()
