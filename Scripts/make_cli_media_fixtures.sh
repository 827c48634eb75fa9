#!/usr/bin/env bash
# Regenerates Tests/TelmeCLITests/Fixtures/media: tiny MELD-layout clips for the annotate tests,
# each a case the pipeline must survive. Needs ffmpeg and espeak-ng (Debian packages).
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/Tests/TelmeCLITests/Fixtures/media"
rm -rf "$out" && mkdir -p "$out/clips"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
clip() {  # name seconds fps [noaudio]
    local name=$1 seconds=$2 fps=$3
    if [ "${4:-}" = noaudio ]; then
        ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=64x48:rate=$fps" -t "$seconds" \
            -c:v libx264 -pix_fmt yuv420p -crf 40 "$out/clips/$name.mp4"
    else
        espeak-ng -w "$tmp/speech.wav" "this is clip $name" 2>/dev/null
        ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=64x48:rate=$fps" -i "$tmp/speech.wav" \
            -filter_complex "[1:a]apad[a]" -map 0:v -map "[a]" -t "$seconds" \
            -c:v libx264 -pix_fmt yuv420p -crf 40 -c:a aac -b:a 24k -ar 22050 "$out/clips/$name.mp4"
    fi
}
clip dia0_utt0 1.5 10
clip dia0_utt1 1.2 10
clip dia0_utt2 2.0 10
clip dia1_utt0 1.0 10
clip dia1_utt1 0.4 10            # 4 frames: fewer than 8, the last one repeated
clip dia1_utt2 1.0 10 noaudio    # no audio stream
clip dia2_utt0 31 2              # over 30 s: the authors' zero input
clip dia2_utt2 1.0 10
head -c 3000 "$out/clips/dia0_utt0.mp4" > "$out/clips/dia2_utt1.mp4"   # truncated mp4
: > "$out/clips/dia2_utt3.mp4"                                           # zero bytes
# dia1_utt3 has no clip at all.
cat > "$out/corpus.csv" <<'CSV'
Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID
Hello there.,Ana,neutral,0,0
"Oh, hi! Long time.",Ben,joy,0,1
Two seconds now.,Ana,sadness,0,2
Where were you?,Cleo,anger,1,0
Away.,Dev,neutral,1,1
Silent film.,Cleo,surprise,1,2
No clip here.,Dev,fear,1,3
A very long clip.,Eli,neutral,2,0
Broken file.,Fay,disgust,2,1
Fine again.,Eli,joy,2,2
Empty file.,Fay,neutral,2,3
CSV
du -sh "$out"
