#!/usr/bin/env bash
# Timed end-to-end benchmark, all baselines in the same run on the same data:
#   wc -w (the product target's reference speed), parse-only (read + JSON: the floor), and the
#   full count+score pipeline, at each rank count; peak RSS per rank at two corpus sizes.
# Usage: bash perf/run.sh [--sizes 200,400] [--ranks 1,2] [--repeat 3] [--out perf/results]
set -euo pipefail
sizes=200,400; ranks=1,2; repeat=3; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2;; --ranks) ranks="$2"; shift 2;;
    --repeat) repeat="$2"; shift 2;; --out) out="$2"; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
source "$(dirname "$0")/common.sh"  # repo, bin, gen, mpiflags, median, gen_corpus; builds
out="${out:-$repo/perf/results}"
mkdir -p "$out"
report="$out/report.md"

{
echo "# cleanmix throughput ($(date -u +%F), $(nproc --all) cores, $(uname -m), median of $repeat runs)"
echo
echo "| corpus MB | ranks | wc -w MB/s | parse-only MB/s/rank | count+score MB/s/rank | pipeline / parse-only | wall s | peak RSS MB/rank |"
echo "|---|---|---|---|---|---|---|---|"
} > "$report"

IFS=, read -r -a sizelist <<< "$sizes"
IFS=, read -r -a ranklist <<< "$ranks"
for mb in "${sizelist[@]}"; do
  data="$(gen_corpus "$mb")"  # warmed in the page cache for every contender alike
  bytes=$(cat "$data"/*.jsonl | wc -c)
  wc_rates=()
  for i in $(seq "$repeat"); do
    t0=$(date +%s.%N); cat "$data"/*.jsonl | wc -w > /dev/null; t1=$(date +%s.%N)
    wc_rates+=("$(echo "$bytes / ($t1 - $t0) / 1000000" | bc -l)")
  done
  wc_med=$(printf '%s\n' "${wc_rates[@]}" | median)
  for np in "${ranklist[@]}"; do
    parse=(); pipe=(); walls=(); rss=()
    for i in $(seq "$repeat"); do
      parse+=("$(mpirun "${mpiflags[@]}" -np "$np" "$bin" bench-parse "$data/corpus.toml" |
                 sed -E 's/.* ([0-9.]+) MB\/s per rank/\1/')")
      h5="$out/run-${mb}MB-np$np.h5"
      t0=$(date +%s.%N)
      mpirun "${mpiflags[@]}" -np "$np" "$bin" run "$data/corpus.toml" --out "$h5" \
        --set run.progress_seconds=1e9 2> "$out/run-${mb}MB-np$np.log"
      t1=$(date +%s.%N)
      walls+=("$(echo "$t1 - $t0" | bc -l)")
      read -r rate peak < <(/usr/bin/python3 - "$h5" "$bytes" "$np" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r"); t = f["timing"]
names = [n.decode() if isinstance(n, bytes) else n for n in t.attrs["phases"]]
tm = t[:]; c, s = names.index("count"), names.index("score")
slowest = max(tm[r, c] + tm[r, s] for r in range(tm.shape[0]))
print(int(sys.argv[2]) / slowest / 1e6 / int(sys.argv[3]), max(t.attrs["peak_rss_bytes"]) / 1e6)
PY
)
      pipe+=("$rate"); rss+=("$peak")
    done
    p_med=$(printf '%s\n' "${parse[@]}" | median)
    c_med=$(printf '%s\n' "${pipe[@]}" | median)
    w_med=$(printf '%s\n' "${walls[@]}" | median)
    r_max=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
    printf '| %s | %s | %.0f | %.0f | %.1f | %.2fx slower | %.1f | %.0f |\n' "$mb" "$np" "$wc_med" \
      "$p_med" "$c_med" "$(echo "$p_med / $c_med" | bc -l)" "$w_med" "$r_max" >> "$report"
  done
done
cat "$report"

# ---- stage costs (issue 3): marginal cost of the LM, the classifier and dedup --------------
# Same corpus, np = last of --ranks; each variant switches one stage off. The difference in
# count+score+dedup time (max over ranks) is that stage's cost.
np="${ranklist[-1]}"
data="$repo/perf/data/${sizelist[0]}MB"
bytes=$(cat "$data"/*.jsonl | wc -c)
{
echo
echo "## Stage costs (${sizelist[0]} MB, $np ranks, median of $repeat)"
echo
echo "| variant | count+score+dedup+classify s | stage cost s | stage MB/s per rank | dedup Alltoallv bytes (max rank) |"
echo "|---|---|---|---|---|"
} >> "$report"
stage_time() {  # variant name, extra args... -> prints "seconds a2a_bytes"
  local name="$1"; shift
  local ts=()
  local a2a=0
  for i in $(seq "$repeat"); do
    h5="$out/stage-$name.h5"
    mpirun "${mpiflags[@]}" -np "$np" "$bin" run "$data/corpus.toml" --out "$h5" \
      --set run.progress_seconds=1e9 "$@" 2> "$out/stage-$name.log"
    read -r t a2a < <(/usr/bin/python3 - "$h5" <<'PY'
import sys, h5py
t = h5py.File(sys.argv[1], "r")["timing"]
names = [n.decode() if isinstance(n, bytes) else n for n in t.attrs["phases"]]
cols = [names.index(p) for p in ("count", "score", "dedup", "classify")]
print(max(sum(t[r, c] for c in cols) for r in range(t.shape[0])), t.attrs["dedup_alltoallv_bytes_max"])
PY
)
    ts+=("$t")
  done
  echo "$(printf '%s\n' "${ts[@]}" | median) $a2a"
}
read -r full a2a_full < <(stage_time full)
read -r nodedup _ < <(stage_time nodedup --set dedup.enabled=false)
read -r noclass _ < <(stage_time noclassifier --set classifier.enabled=false)
read -r nolm _ < <(stage_time nolm --set classifier.enabled=false --set sources.anchor.role=pool)
row() {  # name, time, baseline time, a2a
  local cost; cost=$(echo "$2 - $3" | bc -l)
  local rate="-"
  if [ "$(echo "$cost > 0.001" | bc -l)" = 1 ]; then
    rate=$(printf '%.0f' "$(echo "$bytes / $cost / 1000000 / $np" | bc -l)")
  fi
  printf '| %s | %.2f | %.2f | %s | %s |\n' "$1" "$2" "$cost" "$rate" "$4" >> "$report"
}
row "full pipeline" "$full" 0 "$a2a_full"
row "MinHash + dedup (full minus dedup off)" "$full" "$nodedup" "$a2a_full"
row "classifier features (full minus classifier off)" "$full" "$noclass" "-"
row "reference LM (classifier off minus LM off)" "$noclass" "$nolm" "-"
tail -8 "$report"
