#!/usr/bin/env bash
# Regenerates Tests/TelmeCLITests/Fixtures/whisperx/: an episodes folder as people have one after
# transcribing with WhisperX (https://github.com/m-bain/whisperX), for the annotate tests
# (Tests/TelmeCLITests/TranscriptSourcesTests.swift). The media are the episodes fixtures
# (Scripts/make_cli_layout_fixtures.sh) remuxed into other containers; the transcripts are in
# WhisperX's output formats:
#   - JSON: the result object dumped with Python's json.dump(result, file, ensure_ascii=False), as
#     WhisperX's JSON writer does: one line, segments[] with start, end, text (with its leading
#     space), words[] (word, start, end, score, speaker) and speaker after diarization, then
#     word_segments and language.
#   - SRT: "N\nHH:MM:SS,mmm --> HH:MM:SS,mmm\n[SPEAKER_00]: text\n\n" per segment (hours always,
#     "," before the milliseconds).
#   - VTT: "WEBVTT\n\n" then "MM:SS.mmm --> MM:SS.mmm\n[SPEAKER_00]: text\n\n" (hours only past one).
#   A segment that diarization left without a speaker has no prefix (and no "speaker" key).
#
# whisperx/
#   S01/E01.mov + S01/E01.json   ep01.mp4 remuxed to QuickTime (H.264 + AAC); 6 segments, one without speaker;
#                                with the .srt, .vtt and .txt WhisperX writes beside it (--output_format all)
#   S01/E02.webm + S01/E02.vtt   ep02.mkv remuxed to WebM (VP9 + Opus); 4 segments
#   E03.mp4 + E03.srt            ep01.mp4 as is; 6 segments
set -euo pipefail
# ffmpeg (the CLI) and python3 make the fixtures; the tests only read them.
if ! command -v ffmpeg >/dev/null || ! command -v python3 >/dev/null; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq ffmpeg python3 >/dev/null
fi
root="$(cd "$(dirname "$0")/.." && pwd)/Tests/TelmeCLITests/Fixtures"
out="$root/whisperx"
rm -rf "$out" && mkdir -p "$out/S01"
exact=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1)
ffmpeg -loglevel error -y -i "$root/episodes/ep01.mp4" -c copy "${exact[@]}" "$out/S01/E01.mov"
ffmpeg -loglevel error -y -i "$root/episodes/ep02.mkv" -c copy "${exact[@]}" "$out/S01/E02.webm"
cp "$root/episodes/ep01.mp4" "$out/E03.mp4"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]

def segments(cues):
    """WhisperX's segments: words spread evenly over the segment, each with a score and the speaker."""
    result = []
    for start, end, speaker, text in cues:
        words = text.split()
        step = (end - start) / len(words)
        entry = {"start": start, "end": end, "text": " " + text, "words": []}
        for k, word in enumerate(words):
            w = {"word": word, "start": round(start + k * step, 3), "end": round(start + (k + 1) * step, 3), "score": 0.912}
            if speaker is not None:
                w["speaker"] = speaker
            entry["words"].append(w)
        if speaker is not None:
            entry["speaker"] = speaker
        result.append(entry)
    return result

def timestamp(seconds, always_hours, marker):
    ms = round(seconds * 1000.0)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1_000)
    head = f"{hours:02d}:" if always_hours or hours > 0 else ""
    return f"{head}{minutes:02d}:{secs:02d}{marker}{ms:03d}"

def line(segment):
    text = segment["text"].strip().replace("-->", "->")
    return f"[{segment['speaker']}]: {text}" if "speaker" in segment else text

ep01 = [(0.5, 2.0, "SPEAKER_00", "Good morning."), (2.6, 4.2, "SPEAKER_01", "Morning. Coffee?"),
        (4.8, 6.0, "SPEAKER_00", "Yes please."), (13.0, 14.8, "SPEAKER_01", "Did you see the news?"),
        (18.3, 19.8, None, "No, what happened?"), (20.0, 21.5, "SPEAKER_01", "They closed the bridge.")]
ep02 = [(0.8, 2.4, "SPEAKER_00", "Where are the keys?"), (3.0, 4.5, "SPEAKER_01", "On the table."),
        (11.0, 13.0, "SPEAKER_00", "They are not there."), (14.2, 17.5, "SPEAKER_01", "Then check your coat.")]

e01 = segments(ep01)
result = {"segments": e01, "word_segments": [w for s in e01 for w in s["words"]], "language": "en"}
with open(f"{out}/S01/E01.json", "w", encoding="utf-8") as f:
    json.dump(result, f, ensure_ascii=False)

def write_vtt(path, segs):
    with open(path, "w", encoding="utf-8") as f:
        print("WEBVTT\n", file=f)
        for s in segs:
            print(f"{timestamp(s['start'], False, '.')} --> {timestamp(s['end'], False, '.')}\n{line(s)}\n", file=f)

def write_srt(path, segs):
    with open(path, "w", encoding="utf-8") as f:
        for i, s in enumerate(segs, start=1):
            print(f"{i}\n{timestamp(s['start'], True, ',')} --> {timestamp(s['end'], True, ',')}\n{line(s)}\n", file=f)

write_srt(f"{out}/S01/E01.srt", e01)
write_vtt(f"{out}/S01/E01.vtt", e01)
with open(f"{out}/S01/E01.txt", "w", encoding="utf-8") as f:
    for s in e01:
        print(line(s), file=f)
write_vtt(f"{out}/S01/E02.vtt", segments(ep02))
write_srt(f"{out}/E03.srt", segments([(a, b, c or "SPEAKER_00", d) for a, b, c, d in ep01]))
PY
find "$out" -type f | sort | xargs ls -l
