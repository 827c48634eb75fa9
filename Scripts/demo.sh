#!/usr/bin/env bash
# The main job on the bundled sample: build, convert the sample model, annotate the sample corpus.
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
    --out out/sample-annotations || status=$?
[ "$status" -le 1 ] || exit "$status"
echo "annotations: out/sample-annotations/annotations.csv and annotations.jsonl"
