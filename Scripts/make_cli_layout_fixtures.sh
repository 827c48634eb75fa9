#!/usr/bin/env bash
# Regenerates Tests/TelmeCLITests/Fixtures/{iemocap,episodes}: tiny corpora in the IEMOCAP and
# episodes layouts for the annotate tests (Tests/TelmeCLITests/AnnotateLayoutsTests.swift), with
# real speech (espeak-ng) and real containers (ffmpeg). Needs ffmpeg and espeak-ng (Debian packages).
#
# iemocap/  IEMOCAP_test.csv with the TelME columns and paths relative to iemocap/ (the --media root):
#   Session1/dialog/avi/DivX/Ses01F_impro01.avi      20 s, 10 fps, 64x48, MPEG-4 part 2 (DivX tag), no audio
#   Session1/dialog/avi/DivX/Ses01M_script01_1.avi   15 s, 15 fps
#   Session1/sentences/wav/<dialog>/<utt>.wav        16 kHz mono s16, as long as end - start
#   Edge cases: Ses01F_impro01_F000 starts at 0.42 s (window clamped at 0), Ses01F_impro01_F001 has
#   no wav, Ses01M_script01_1_M001 ends after its video (14.1-15.5 s of 15 s), Ses01M_script01_1_F001
#   lies wholly after it (its window 15.5-18.2 s holds no frame).
# episodes/
#   ep01.mp4 + ep01.srt   24 s, 10 fps H.264 + AAC; cues with `NAME:` prefixes, gaps 7.0 s and 3.5 s
#   ep02.mkv + ep02.vtt   15 s, 15 fps VP9 + Opus; `<v Name>` voices, a gap of 6.5 s, a cue
#                         running past the end (14.2-17.5 s) and one wholly after it (19-20.5 s)
#   ep03.avi              no transcript: a warning, no records
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)/Tests/TelmeCLITests/Fixtures"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
exact=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1)

# speak NAME TEXT: $tmp/NAME.wav, 16 kHz mono
speak() {
    espeak-ng -s 210 -w "$tmp/$1.raw.wav" "$2" 2>/dev/null
    ffmpeg -loglevel error -y -i "$tmp/$1.raw.wav" -ac 1 -ar 16000 "$tmp/$1.wav"
}

# ---------------------------------------------------------------- IEMOCAP layout
iem="$root/iemocap"
rm -rf "$iem"
avi="$iem/Session1/dialog/avi/DivX"
mkdir -p "$avi"
dialog_video() {  # dialog seconds fps
    ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=64x48:rate=$3" -t "$2" "${exact[@]}" \
        -c:v mpeg4 -vtag DIVX -q:v 31 -g 30 "$avi/$1.avi"
}
dialog_video Ses01F_impro01 20 10
dialog_video Ses01M_script01_1 15 15

csv="$iem/IEMOCAP_test.csv"
echo "Utterance,Speaker,Dialogue_ID,Start_Time,End_Time,Wav_Path,Video_Path,Emotion" > "$csv"
# utterance dialog start end emotion wav(yes/no) text
row() {
    local utt=$1 dialog=$2 start=$3 end=$4 emotion=$5 wav=$6 text=$7
    local wavpath="./Session1/sentences/wav/$dialog/$utt.wav"
    if [ "$wav" = yes ]; then
        mkdir -p "$iem/Session1/sentences/wav/$dialog"
        speak "$utt" "$text"
        local seconds
        seconds=$(awk "BEGIN { printf \"%.3f\", $end - $start }")
        ffmpeg -loglevel error -y -i "$tmp/$utt.wav" -af apad -t "$seconds" "${exact[@]}" \
            -c:a pcm_s16le -ar 16000 -ac 1 "$iem/${wavpath#./}"
    fi
    local quoted=$text
    case $text in *[,\"]*) quoted="\"${text//\"/\"\"}\"" ;; esac
    echo "$quoted,$utt,$dialog,$start,$end,$wavpath,./Session1/dialog/avi/DivX/$dialog.avi,$emotion" >> "$csv"
}
row Ses01F_impro01_F000 Ses01F_impro01 0.42 1.42 neu yes "Hi. Are you next?"
row Ses01F_impro01_M000 Ses01F_impro01 3.1 4.2 fru yes "I waited an hour."
row Ses01F_impro01_F001 Ses01F_impro01 6.8 8.1 neu no "Fill out this form, please."
row Ses01F_impro01_M001 Ses01F_impro01 11.25 12.15 ang yes "This is ridiculous."
row Ses01M_script01_1_M000 Ses01M_script01_1 1.3 2.1 exc yes "I got the job!"
row Ses01M_script01_1_F000 Ses01M_script01_1 4.2 5.2 hap yes "That is wonderful news."
row Ses01M_script01_1_M001 Ses01M_script01_1 14.1 15.5 sad yes "But we have to move away."
row Ses01M_script01_1_F001 Ses01M_script01_1 16.5 17.2 sad yes "Move where?"

# ---------------------------------------------------------------- episodes layout
ep="$root/episodes"
rm -rf "$ep" && mkdir -p "$ep"
# episode_audio OUT SECONDS (start text)...: speech placed at the cue starts, 16 kHz mono
episode_audio() {
    local out=$1 seconds=$2
    shift 2
    local inputs=() filters="" mix="" n=0
    while [ $# -gt 0 ]; do
        speak "$(basename "$out")_$n" "$2"
        inputs+=(-i "$tmp/$(basename "$out")_$n.wav")
        local ms
        ms=$(awk "BEGIN { printf \"%d\", $1 * 1000 }")
        filters+="[$n:a]adelay=${ms}[a$n];"
        mix+="[a$n]"
        n=$((n + 1))
        shift 2
    done
    ffmpeg -loglevel error -y "${inputs[@]}" \
        -filter_complex "${filters}${mix}amix=inputs=$n:normalize=0,apad[out]" -map "[out]" -t "$seconds" \
        -ar 16000 -ac 1 -c:a pcm_s16le "$out.wav"
}

episode_audio "$tmp/ep01" 24 0.5 "Good morning." 2.6 "Morning. Coffee?" 4.8 "Yes please." \
    13.0 "Did you see the news?" 18.3 "No, what happened?" 20.0 "They closed the bridge."
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=64x48:rate=10" -i "$tmp/ep01.wav" -t 24 "${exact[@]}" \
    -c:v libx264 -pix_fmt yuv420p -crf 45 -g 20 -c:a aac -b:a 16k -ar 16000 -ac 1 "$ep/ep01.mp4"
cat > "$ep/ep01.srt" <<'SRT'
1
00:00:00,500 --> 00:00:02,000
ANNA: Good morning.

2
00:00:02,600 --> 00:00:04,200
BEN: Morning. Coffee?

3
00:00:04,800 --> 00:00:06,000
ANNA: Yes please.

4
00:00:13,000 --> 00:00:14,800
BEN: Did you see the news?

5
00:00:18,300 --> 00:00:19,800
ANNA: No, what happened?

6
00:00:20,000 --> 00:00:21,500
BEN: They closed
the bridge.
SRT

episode_audio "$tmp/ep02" 15 0.8 "Where are the keys?" 3.0 "On the table." 11.0 "They are not there." \
    14.2 "Then check your coat."
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=64x48:rate=15" -i "$tmp/ep02.wav" -t 15 "${exact[@]}" \
    -c:v libvpx-vp9 -b:v 20k -g 30 -c:a libopus -b:a 12k -ac 1 "$ep/ep02.mkv"
cat > "$ep/ep02.vtt" <<'VTT'
WEBVTT

1
00:00.800 --> 00:02.400
<v Carla>Where are the keys?</v>

2
00:03.000 --> 00:04.500
<v Dan>On the table.

3
00:11.000 --> 00:13.000
<v.loud Carla>They are <i>not</i> there.

4
00:14.200 --> 00:17.500
<v Dan>Then check your coat.

5
00:19.000 --> 00:20.500
<v Carla>Found them.
VTT

ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=64x48:rate=10" -t 2 "${exact[@]}" \
    -c:v mpeg4 -q:v 31 "$ep/ep03.avi"

# offset/ (beside episodes/, not in it: subfolders of an episodes folder are episodes): the video stream starts
# 0.564 s after the container and the audio (itsoffset 0.5 plus the encoder's delay), as in
# remuxed broadcast recordings. Presentation time 1.0-2.0 s is white with an 880 Hz tone, the rest
# black and silent; offset.srt has that one cue.
off="$root/offset"
rm -rf "$off" && mkdir -p "$off"
ffmpeg -loglevel error -y -f lavfi \
    -i "color=black:size=64x48:rate=10:duration=3,drawbox=color=white:t=fill:enable='between(t,0.5,1.45)'" \
    "${exact[@]}" -c:v libx264 -bf 0 -pix_fmt yuv420p -crf 45 "$tmp/offset-video.mp4"
ffmpeg -loglevel error -y -f lavfi -i "sine=frequency=880:sample_rate=16000:duration=1" \
    -af "adelay=1000,apad" -t 3.5 "${exact[@]}" -c:a aac -b:a 16k "$tmp/offset-audio.m4a"
ffmpeg -loglevel error -y -itsoffset 0.5 -i "$tmp/offset-video.mp4" -i "$tmp/offset-audio.m4a" \
    -map 0:v -map 1:a -c copy "${exact[@]}" "$off/offset.mkv"
printf '1\n00:00:01,000 --> 00:00:02,000\nANNA: Now.\n' > "$off/offset.srt"

du -ab "$iem" "$ep" | sort -n | tail -25
du -sh "$iem" "$ep"
