#!/usr/bin/env bash
# The main job on the bundled sample: build, convert the demo model, annotate the sample corpus
# (three MELD test dialogues, 23 clips), score it against MELD's gold labels, write the report.
# Outputs land in out/ (not tracked).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
swift build -c release --product telme
telme=$(swift build -c release --show-bin-path)/telme
mkdir -p out
"$telme" convert Samples/model/sample-model.h5 -o out/sample.telme
"$telme" inspect out/sample.telme
# Exit status 1 means some utterances were degraded (see README: Output); still a finished run.
status=0
"$telme" annotate --model out/sample.telme --corpus Samples/corpus/sample.csv --layout meld --media Samples/corpus/clips \
    --out out/sample-annotations --overwrite || status=$?
[ "$status" -le 1 ] || exit "$status"
# --text-only: the students are skipped on purpose (records ok, exit status 0).
status=0
"$telme" annotate --model out/sample.telme --corpus Samples/corpus/sample.csv --layout meld --text-only \
    --out out/sample-text-only --overwrite >/dev/null || status=$?
[ "$status" -le 1 ] || exit "$status"
echo
echo "== Text only (the teacher alone: what the model learnt from MELD's transcripts)"
"$telme" evaluate out/sample-text-only
echo
echo "== Full pipeline (text + the clips' audio and video; the clips carry a synthetic cue of the gold label, see README)"
"$telme" evaluate out/sample-annotations
"$telme" report out/sample-annotations -o out/sample-report.html --title "telme demo: three MELD test dialogues"
echo "annotations: out/sample-annotations/annotations.csv and annotations.jsonl"
echo "report: out/sample-report.html (open it in a browser)"
