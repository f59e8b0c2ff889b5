#!/usr/bin/env bash
# Issue 12's speed goals, measured in one run on the same data with `wc -w` as the yardstick.
# Usage: bash perf/speed.sh [--mb 100] [--repeat 3] [--out perf/results] [--memory] [--set K=V]...
#   --memory  only the memory flatness: 1x1 peak RSS at MB and 2 x MB (writes speed-memory.md)
#   --set     a config override for every cleanmix run (e.g. materialize.round_bytes=...)
#
# The corpus is generated (cleanmix_gen_corpus MB 64 1 5): 10% anchor (reference LM on), 5%
# `synthetic_known` (contrast LM, fold LMs and the classifier on), the rest pool. The contenders
# run interleaved, --repeat times each, and the report gives medians:
#   wc      `cat *.jsonl | wc -w`
#   1x1     cleanmix run, 1 rank x 1 thread (OMP_NUM_THREADS=1)
#   1x2     1 rank x 2 threads (Kokkos OpenMP kernel + OpenMP host threads)
#   2x1     2 ranks x 1 thread
# Throughput is input bytes / wall seconds of the whole `cleanmix run` (process start to exit),
# and count+score is input bytes / (count + score seconds of the slowest rank, /timing).
# Ranks are not bound to cores (--bind-to none): a bound 1-rank job would put both threads on
# one core. Peak memory is /timing's peak_rss_bytes: per rank, and summed over the ranks of a run.
# The kernel's thread scaling is BM_SignalKernel/1 (signals + reference LM) of
# cleanmix_bench_stages on Kokkos OpenMP at 1 and 2 threads. Memory flatness: 1x1 peak RSS at
# MB and 2 x MB. Writes $out/speed.md.
source "$(dirname "$0")/common.sh"  # repo, bin, gen, mpiflags, median; builds
mb=100
repeat=3
out="$repo/perf/results"
memory=0
sets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --memory) memory=1; shift ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    --mb) mb="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "speed.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
bench="$repo/build/perf/cleanmix_bench_stages"

corpus() {  # MB -> folder (made once, warmed in the page cache)
  local data="$repo/perf/data/${1}MB-synth5"
  [ -f "$data/corpus.toml" ] || "$gen" "$data" "$1" 64 1 5 >&2
  cat "$data"/*.jsonl > /dev/null
  echo "$data"
}

# run_pipeline DATA NP THREADS TAG -> "wall_MBps countscore_MBps rss_max_MB rss_sum_MB"
run_pipeline() {
  local data="$1" np="$2" th="$3" tag="$4" bytes h5 t0 t1
  bytes=$(cat "$data"/*.jsonl | wc -c)
  h5="$out/speed-$tag.h5"
  t0=$(date +%s.%N)
  OMP_NUM_THREADS="$th" OMP_PROC_BIND=false mpirun "${mpiflags[@]}" --bind-to none -x OMP_NUM_THREADS -x OMP_PROC_BIND \
    -np "$np" "$bin" run "$data/corpus.toml" --out "$h5" --set run.checkpoint=false \
    --set run.progress_seconds=1e9 --workdir "$out/speed-$tag.work" ${sets[@]+"${sets[@]}"} \
    2> "$out/speed-$tag.log"
  t1=$(date +%s.%N)
  /usr/bin/python3 - "$h5" "$bytes" "$t0" "$t1" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r"); t = f["timing"]
names = [n.decode() if isinstance(n, bytes) else n for n in t.attrs["phases"]]
tm = t[:]; c, s = names.index("count"), names.index("score")
slowest = max(tm[r, c] + tm[r, s] for r in range(tm.shape[0]))
b = int(sys.argv[2]); wall = float(sys.argv[4]) - float(sys.argv[3])
rss = t.attrs["peak_rss_bytes"]
print(f"{b / wall / 1e6:.2f} {b / slowest / 1e6:.2f} {max(rss) / 1e6:.1f} {sum(rss) / 1e6:.1f}")
PY
}

data="$(corpus "$mb")"
bytes=$(cat "$data"/*.jsonl | wc -c)
if [ "$memory" = 1 ]; then
  read -r _ _ m1 _ < <(run_pipeline "$data" 1 1 "mem-1x")
  data2="$(corpus $((2 * mb)))"
  read -r _ _ m2 _ < <(run_pipeline "$data2" 1 1 "mem-2x")
  r=$(echo "$m2 / $m1" | bc -l | xargs printf '%.2f')
  {
    echo "# Peak RSS per rank, 1 rank x 1 thread ($(date -u +%F)${sets[*]:+, ${sets[*]}})"
    echo
    echo "| corpus MB | peak RSS MB |"
    echo "|---|---|"
    echo "| $mb | $m1 |"
    echo "| $((2 * mb)) | $m2 |"
    echo
    echo "Ratio ${r}x: $([ "$(echo "$r <= 1.1" | bc)" = 1 ] && echo "within 10%" || echo "not flat")."
  } > "$out/speed-memory.md"
  cat "$out/speed-memory.md"
  exit 0
fi
declare -A wall cs rmax rsum
wcs=()
for i in $(seq "$repeat"); do
  t0=$(date +%s.%N); cat "$data"/*.jsonl | wc -w > /dev/null; t1=$(date +%s.%N)
  wcs+=("$(echo "$bytes / ($t1 - $t0) / 1000000" | bc -l)")
  for c in 1x1 1x2 2x1; do
    np="${c%x*}"; th="${c#*x}"
    read -r w s m u < <(run_pipeline "$data" "$np" "$th" "$c")
    wall[$c]+="$w "; cs[$c]+="$s "; rmax[$c]+="$m "; rsum[$c]+="$u "
  done
done
med() { tr ' ' '\n' <<< "$1" | grep . | median; }
wc_med=$(printf '%s\n' "${wcs[@]}" | median)

# kernel thread scaling (Kokkos OpenMP): 1 and 2 threads interleaved, --repeat runs each, medians
kern() {
  CLEANMIX_BENCH_BACKEND=openmp OMP_NUM_THREADS="$1" OMP_PROC_BIND=false "$bench" \
    --benchmark_filter='SignalKernel/1$' --benchmark_min_time=1 \
    "$(ls "$data"/pool-*.jsonl | head -1)" 32 2> /dev/null |
    awk '/^BM_/ { for (i = 1; i <= NF; i++) if ($i ~ /^bytes_per_second=/) { v = $i; sub(/bytes_per_second=/, "", v); sub(/M\/s/, "", v); print v } }'
}
k1s=(); k2s=()
for i in $(seq "$repeat"); do k1s+=("$(kern 1)"); k2s+=("$(kern 2)"); done
k1=$(printf '%s\n' "${k1s[@]}" | median); k2=$(printf '%s\n' "${k2s[@]}" | median)

# memory flat in corpus size: 1x1 at MB and 2 x MB
data2="$(corpus $((2 * mb)))"
read -r _ _ m2 _ < <(run_pipeline "$data2" 1 1 "1x1-2x")

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
w11=$(med "${wall[1x1]}"); w12=$(med "${wall[1x2]}"); w21=$(med "${wall[2x1]}")
c11=$(med "${cs[1x1]}")
m11=$(med "${rmax[1x1]}"); m12=$(med "${rsum[1x2]}"); m21=$(med "${rsum[2x1]}")
report="$out/speed.md"
{
  echo "# Speed goals ($(date -u +%F), $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
  echo
  echo "Corpus: $data ($((bytes / 1000000)) MB: 10% anchor, 5% synthetic_known, pool). Medians of $repeat interleaved runs."
  echo
  echo "| contender | MB/s (whole run) | count+score MB/s | peak RSS per rank MB | peak RSS all ranks MB |"
  echo "|---|---|---|---|---|"
  printf '| `wc -w` | %.1f | – | – | – |\n' "$wc_med"
  for c in 1x1 1x2 2x1; do
    printf '| %s rank(s) x thread(s) | %.1f | %.1f | %.0f | %.0f |\n' "$c" "$(med "${wall[$c]}")" \
      "$(med "${cs[$c]}")" "$(med "${rmax[$c]}")" "$(med "${rsum[$c]}")"
  done
  echo
  echo "| goal | measured | met |"
  echo "|---|---|---|"
  r=$(ratio "$w11" "$wc_med"); echo "| whole pipeline 1x1 >= 0.25x wc -w | ${r}x | $([ "$(echo "$r >= 0.25" | bc)" = 1 ] && echo yes || echo no) |"
  r=$(ratio "$c11" "$wc_med"); echo "| count+score 1x1 >= 0.5x wc -w | ${r}x | $([ "$(echo "$r >= 0.5" | bc)" = 1 ] && echo yes || echo no) |"
  r=$(ratio "$w12" "$w21"); echo "| 1x2 throughput within 10% of 2x1 (or better) | ${r}x | $([ "$(echo "$r >= 0.9" | bc)" = 1 ] && echo yes || echo no) |"
  r=$(ratio "$m12" "$m21"); echo "| 1x2 memory <= 60% of 2x1 | ${r}x | $([ "$(echo "$r <= 0.6" | bc)" = 1 ] && echo yes || echo no) |"
  r=$(ratio "$k2" "$k1"); echo "| OpenMP kernel 2 threads >= 1.7x 1 thread | ${r}x ($k2 vs $k1 MB/s) | $([ "$(echo "$r >= 1.7" | bc)" = 1 ] && echo yes || echo no) |"
  r=$(ratio "$m2" "$m11"); echo "| peak RSS per rank flat in corpus size | ${r}x (${m11} MB at $mb MB, ${m2} MB at $((2 * mb)) MB) | $([ "$(echo "$r <= 1.1" | bc)" = 1 ] && echo yes || echo no) |"
} > "$report"
cat "$report"
