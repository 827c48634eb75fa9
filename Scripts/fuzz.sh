#!/usr/bin/env bash
# Runs one fuzz target under libFuzzer with AddressSanitizer.
#
#   bash Scripts/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]
#
# TARGET: telme, telme-model, units-jsonl, run-json, annotations-jsonl, export, srt, vtt, transcript-csv,
# whisperx-json, corpus-csv (TelmeFuzz's FuzzTarget).
# Builds the TelmeFuzzEntry library with -sanitize=fuzzer,address into .build-libfuzzer and
# links it with the fuzzer runtime (libFuzzer brings its own main, so the fuzz entry is a
# static library, as WasmKit's FuzzTesting does). The working corpus starts from the committed
# seeds (Tests/TelmeFuzzTests/Fixtures/fuzz/TARGET) and grows in .build-libfuzzer/corpus/TARGET;
# crashes land in .build-libfuzzer/artifacts/TARGET/. Copy a crash file into the fixtures
# folder: `swift test` replays every file there.
# SECONDS defaults to 600. Extra flags go to libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: Scripts/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]}
seconds=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
case $target in
    telme|telme-model|units-jsonl|run-json|annotations-jsonl|export|srt|vtt|transcript-csv|whisperx-json|corpus-csv) ;;
    *) echo "unknown target $target (telme, telme-model, units-jsonl, run-json, annotations-jsonl, export, srt, vtt," \
            "transcript-csv, whisperx-json, corpus-csv)" >&2; exit 2 ;;
esac

scratch=.build-libfuzzer
binary=$scratch/telme-fuzz
flags=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -g)
# Rebuilt when a source is newer; FUZZ_SKIP_BUILD=1 keeps an existing binary.
if [[ ! -x $binary || ( -z "${FUZZ_SKIP_BUILD:-}" && -n "$(find Sources Package.swift -newer "$binary" -print -quit)" ) ]]; then
    swift build -c release --scratch-path "$scratch" --product TelmeFuzzEntry "${flags[@]}" >&2
    # pkg-config's libraries: the static library carries the Swift modules' autolink entries,
    # not those of the system libraries' module maps.
    libs=$(pkg-config --libs openblas hdf5 libavformat libavcodec libavutil libswresample libswscale)
    # (gold warns about every ASan helper symbol it cannot export; harmless.)
    swiftc -sanitize=fuzzer,address -g "$scratch/release/libTelmeFuzzEntry.a" $libs -o "$binary" 2>&1 \
        | { grep -v "Cannot export local symbol" || true; } >&2
fi

seeds=Tests/TelmeFuzzTests/Fixtures/fuzz/$target
corpus=$scratch/corpus/$target
artifacts=$scratch/artifacts/$target
mkdir -p "$corpus" "$artifacts"
# Deterministic hashing: a crash that depends on Dictionary order replays the same way.
export SWIFT_DETERMINISTIC_HASHING=1 SWIFT_BACKTRACE=enable=no TELME_FUZZ_TARGET=$target
exec "$binary" "$corpus" "$seeds" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=4096 -artifact_prefix="$artifacts/" "$@"
