#!/usr/bin/env bash
# What checkpoints cost and what a resume saves, in one run on the same data:
#   baseline  run with [run] checkpoint = false
#   ckpt      run with checkpoints (the default), kept to measure their size
#   resume    --resume with every count and score checkpoint present and no output (the state
#             after a stop at the end of the score stage): only the post-stages remain
# Median wall time of --repeat runs each, per-stage seconds from /timing, checkpoint bytes.
# Usage: bash perf/checkpoint.sh [--size MB] [--ranks N] [--repeat 3] [--out perf/results]
set -euo pipefail
size=100; np=2; repeat=3; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size="$2"; shift 2;; --ranks) np="$2"; shift 2;;
    --repeat) repeat="$2"; shift 2;; --out) out="$2"; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
source "$(dirname "$0")/common.sh"  # repo, bin, gen, mpiflags, median, gen_corpus; builds
out="${out:-$repo/perf/results}"
mkdir -p "$out"
data="$(gen_corpus "$size")"
stages() {  # H5 -> "count score rest" seconds (max over ranks)
  /usr/bin/python3 - "$1" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r"); t = f["timing"][...].max(axis=0)
names = [n.decode() if isinstance(n, bytes) else n for n in f["timing"].attrs["phases"]]
d = dict(zip(names, t))
print(f"{d['count']:.2f} {d['score']:.2f} {sum(t) - d['count'] - d['score']:.2f}")
PY
}
run() {  # NAME [args]: prints wall seconds
  local name="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  mpirun "${mpiflags[@]}" -np "$np" "$bin" run "$data/corpus.toml" --out "$out/ck-$name.h5" \
    --workdir "$out/ck-$name.work" --set run.progress_seconds=1e9 "$@" 2>> "$out/ck-$name.log" || true
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
declare -A wall st
for mode in baseline ckpt resume; do
  walls=()
  for i in $(seq "$repeat"); do
    rm -rf "$out/ck-$mode.work" "$out/ck-$mode.h5" "$out/ck-$mode.log"
    case "$mode" in
      baseline) walls+=("$(run baseline --set run.checkpoint=false)") ;;
      ckpt) walls+=("$(run ckpt --set run.keep_checkpoints=true)") ;;
      resume)
        # Every count and score checkpoint present, no output: the state after a stop at the
        # end of the score stage. Only the post-stages (and the plan's read pass) remain.
        rm -rf "$out/ck-resume.work"
        cp -r "$out/ck-ckpt.work" "$out/ck-resume.work"
        rm -f "$out/ck-resume.work/run.manifest"
        walls+=("$(run resume --resume)") ;;
    esac
  done
  wall[$mode]=$(printf '%s\n' "${walls[@]}" | median)
  st[$mode]=$(stages "$out/ck-$mode.h5")
done
"$bin" inspect --digest "$out/ck-baseline.h5" > "$out/ck-baseline.digest"
for mode in ckpt resume; do
  "$bin" inspect --digest "$out/ck-$mode.h5" | diff -q - "$out/ck-baseline.digest" > /dev/null ||
    { echo "FAIL: $mode output differs from the baseline" >&2; exit 1; }
done
score_b=$(du -sb "$out/ck-ckpt.work/ckpt/score" | cut -f1)
count_b=$(du -sb "$out/ck-ckpt.work/ckpt/count" | cut -f1)
corpus_b=$(cat "$data"/*.jsonl | wc -c)
{
  echo "# Checkpoint cost ($(date -u +%F), ${size} MB corpus, np $np, median of $repeat runs, $(nproc --all) cores)"
  echo
  echo "| run | wall s | count s | score s | other stages s |"
  echo "|---|---|---|---|---|"
  for mode in baseline ckpt resume; do
    read -r c s o <<< "${st[$mode]}"
    echo "| $mode | $(printf '%.2f' "${wall[$mode]}") | $c | $s | $o |"
  done
  echo
  echo "- overhead of checkpoints: $(echo "(${wall[ckpt]} / ${wall[baseline]} - 1) * 100" | bc -l | xargs printf '%.1f')% wall"
  echo "- resume after score vs a full run: $(echo "${wall[resume]} / ${wall[baseline]}" | bc -l | xargs printf '%.2f')x the time"
  echo "- checkpoint bytes: score $score_b, count $count_b; corpus $corpus_b ($(echo "($score_b + $count_b) * 100 / $corpus_b" | bc -l | xargs printf '%.1f')%)"
  echo "- all three outputs have identical datasets (inspect --digest)"
} | tee "$out/checkpoint.md"
