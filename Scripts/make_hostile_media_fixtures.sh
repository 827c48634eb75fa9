#!/usr/bin/env bash
# Regenerates Tests/TelmeCLITests/Fixtures/hostile: a MELD-layout corpus and an episodes folder
# of damaged and unusual media for the corrupt-media tests of `annotate` and `validate`
# (the plain damaged cases, truncated and empty clips, are in make_cli_media_fixtures.sh).
# Needs ffmpeg and espeak-ng. Every file stays small: the 10-hour silent clip is 8 kHz FLAC
# in 65535-sample frames plus one 32x24 frame every 10 minutes (about 100 KB).
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/Tests/TelmeCLITests/Fixtures/hostile"
rm -rf "$out" && mkdir -p "$out/meld/clips" "$out/episodes"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ff() { ffmpeg -loglevel error -y "$@"; }

espeak-ng -w "$tmp/speech.wav" "a hostile clip" 2>/dev/null
video="testsrc=size=64x48:rate=10"
# A normal clip: 1.5 s of video and speech.
normal() { ff -f lavfi -i "$video" -i "$tmp/speech.wav" -filter_complex "[1:a]apad[a]" -map 0:v -map "[a]" -t "${2:-1.5}" \
    -c:v libx264 -pix_fmt yuv420p -crf 40 -c:a aac -b:a 24k -ar 22050 -f mp4 "$1"; }
ten_hours() { ff -f lavfi -i "anullsrc=r=8000:cl=mono" -f lavfi -i "color=c=gray:s=32x24:r=1/600" -t 36000 \
    -c:a flac -frame_size 65535 -c:v libx264 -pix_fmt yuv420p -crf 51 -g 1 -strict -2 -f mp4 "$1"; }

m="$out/meld/clips"
normal "$m/dia0_utt0.mp4"
ff -i "$tmp/speech.wav" -ar 22050 -f wav "$m/dia0_utt1.mp4"                     # a wav named .mp4
normal "$m/dia0_utt2.avi"                                                        # an mp4 named .avi
ff -i "$tmp/speech.wav" -c:a aac -b:a 24k -f mp4 "$m/dia1_utt0.m4a"              # audio only
ff -f lavfi -i "$video" -t 1 -c:v libx264 -pix_fmt yuv420p -crf 40 "$m/dia1_utt1.mp4"   # video only
# A video stream without a single frame, beside real audio (Matroska keeps an empty track;
# the mp4 muxer drops it).
ff -i "$m/dia0_utt0.mp4" -map 0 -c copy -bsf:v "noise=drop=1" "$m/dia1_utt2.mkv"
ten_hours "$m/dia2_utt0.mp4"                                                     # 10 hours of silence
normal "$m/dia2_utt1.mp4"
head -c 2500 "$m/dia0_utt0.mp4" > "$m/dia2_utt2.mp4"                            # truncated
: > "$m/dia2_utt3.mp4"                                                           # zero bytes

# MELD CSV with absurd times (unused for MELD media, carried to the records), a Latin-1 line
# (0xE9, 0xE8: "Café crème"), a duplicate (dialogue, utterance) and a clip that does not exist.
{
    printf 'Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID,StartTime,EndTime,Video_Path\n'
    printf 'Fine clip.,Ana,neutral,0,0,"00:00:01,000","00:00:02,500",clips/dia0_utt0.mp4\n'
    printf 'A wav in disguise.,Ben,joy,0,1,-5,-1,clips/dia0_utt1.mp4\n'
    printf 'Named like an AVI.,Ana,sadness,0,2,NaN,NaN,clips/dia0_utt2.avi\n'
    printf 'Only sound.,Cleo,anger,1,0,"00:00:05,000","00:00:01,000",clips/dia1_utt0.m4a\n'
    printf 'Only pictures.,Dev,neutral,1,1,"10:00:00,000","10:00:01,500",clips/dia1_utt1.mp4\n'
    printf 'No frames at all.,Cleo,surprise,1,2,0,1,clips/dia1_utt2.mkv\n'
    printf 'Ten hours of silence.,Eli,neutral,2,0,0,36000,clips/dia2_utt0.mp4\n'
    printf 'Caf\xe9 cr\xe8me.,Fay,joy,2,1,1,2,clips/dia2_utt1.mp4\n'
    printf 'Cut short.,Eli,fear,2,2,1,2,clips/dia2_utt2.mp4\n'
    printf 'Nothing inside.,Fay,disgust,2,3,1,2,clips/dia2_utt3.mp4\n'
    printf 'Said twice.,Fay,joy,2,1,2,3,clips/dia2_utt1.mp4\n'
    printf 'Never filmed.,Eli,neutral,2,5,3,4,clips/dia2_utt5.mp4\n'
} > "$out/meld/corpus.csv"

e="$out/episodes"
normal "$e/short.mp4" 3
# Transcript CSV cues: fine, negative, NaN, end before start, beyond the file, at 10 hours, Latin-1.
{
    printf 'start,end,speaker,text\n'
    printf '0.2,1.4,Ana,Fine cue.\n'
    printf -- '-1,0.5,Ben,Before the start.\n'
    printf 'NaN,1,Ana,Not a number.\n'
    printf '2.5,1.5,Ben,Ends before it starts.\n'
    printf '20,21,Ana,After the end of the file.\n'
    printf '36000,36001,Ben,Ten hours in.\n'
    printf '1.5,2.9,Ana,Gar\xe7on!\n'
} > "$e/short.csv"
ten_hours "$e/long.mp4"
printf '1\n00:00:01,000 --> 00:00:03,000\nAna: Still silent.\n\n2\n10:30:00,000 --> 10:30:02,000\nBen: Past the end.\n' > "$e/long.srt"
ff -i "$tmp/speech.wav" -c:a aac -b:a 24k -f mp4 "$e/radio.mp4"                  # an episode without video
printf 'WEBVTT\n\n00:00.100 --> 00:01.000\n<v Cleo>Sound only, na\xefve.\n' > "$e/radio.vtt"
du -sh "$out"
