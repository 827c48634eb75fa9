#!/usr/bin/env bash
# telme annotate as a Slurm job array: one shard of the corpus per array task, then one merge.
#
#   export MODEL=meld.telme CORPUS=test_meld_emo.csv MEDIA=output_repeated_splits_test OUT=$PWD/meld-out
#   export FORMAT=jsonl,csv                  # optional (--format)
#   job=$(sbatch --parsable --array=0-7 Samples/scheduler/slurm-array.sh)
#   sbatch --dependency=afterok:$job --export=ALL,TELME_STEP=merge Samples/scheduler/slurm-array.sh
#
# Each task annotates its shard into $OUT/shard-<task id>: telme takes the shard from
# SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT (so --array=1-8 works as
# well as 0-7; arrays with a step or a list of ids are refused: pass --shard yourself). Whole
# dialogues go to shards by a hash of their ids. A task that is stopped (time limit, preemption,
# scancel) finishes its current dialogue; running the same array again continues every shard
# where it stopped. The merge job writes $OUT/merged, byte for byte what one process over the
# whole corpus writes, lists missing utterances and exits 3 when some are.
#
# --threads is part of the run (OpenBLAS's results change in the last bits with it): the
# merge equals a single run made with the same --threads on the same kind of machine.
#
# Exit status 1 from annotate means some utterances were degraded (missing media): the shard is
# still complete, so it counts as success here.
#SBATCH --job-name=telme
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=12:00:00
#SBATCH --signal=B:TERM@300
set -euo pipefail

TELME=${TELME:-telme}
: "${MODEL:?set MODEL to the .telme model}" "${CORPUS:?set CORPUS to the corpus}" "${OUT:?set OUT to the output folder}"

if [ "${TELME_STEP:-annotate}" = merge ]; then
    exec "$TELME" merge "$OUT"/shard-* --out "$OUT/merged"
fi

# SIGTERM (the time limit's warning, scancel) goes to this shell; pass it on to telme and wait
# for it to write the dialogue under way.
status=0
"$TELME" annotate --model "$MODEL" --corpus "$CORPUS" ${MEDIA:+--media "$MEDIA"} --format "${FORMAT:-jsonl,csv}" \
    --out "$OUT/shard-${SLURM_ARRAY_TASK_ID:?not a Slurm array task}" --threads "${SLURM_CPUS_PER_TASK:-1}" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT
wait "$pid" || status=$?
while kill -0 "$pid" 2>/dev/null; do status=0; wait "$pid" || status=$?; done
[ "$status" -le 1 ] || exit "$status"
