#!/usr/bin/env bash
# A/B check of two cleanmix builds (a refactor's "behaviour unchanged" proof), in one run on the
# same machine and data:
#   1. output: `inspect --digest` of the bundled sample at np 1, 2 and 4 and of a generated
#      corpus at np 2, for both binaries; every digest must be identical (across binaries and
#      rank counts). The sample's --materialize manifest and calibrate's report must match too.
#   2. throughput: count+score MB/s per rank (slowest rank, from /timing) and wall seconds on the
#      generated corpus, the two binaries interleaved, median of --repeat runs each.
# Usage: bash perf/ab.sh A_BIN B_BIN [--mb 100] [--np 2] [--repeat 3] [--out perf/results/ab]
# Exit 1 when any output differs.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,10p' "$0"; exit 2; }
A="$(realpath "$1")"; B="$(realpath "$2")"; shift 2
mb=100; np=2; repeat=3; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mb) mb="$2"; shift 2;; --np) np="$2"; shift 2;;
    --repeat) repeat="$2"; shift 2;; --out) out="$2"; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
export CLEANMIX_PERF_NO_BUILD=1 CLEANMIX_GEN="${CLEANMIX_GEN:-$(dirname "$B")/perf/cleanmix_gen_corpus}"
source "$(dirname "$0")/common.sh"
out="${out:-$repo/perf/results/ab}"
rm -rf "$out"; mkdir -p "$out"
fail=0
run() {  # BIN NAME NP CONFIG [args]: one run, digest to $out/NAME.digest, log to NAME.log
  local b="$1" name="$2" n="$3" cfg="$4"; shift 4
  mpirun "${mpiflags[@]}" -np "$n" "$b" run "$cfg" --out "$out/$name.h5" \
    --workdir "$out/$name.work" --set run.progress_seconds=1e9 "$@" 2> "$out/$name.log"
  "$b" inspect --digest "$out/$name.h5" > "$out/$name.digest"
}
same() {  # FILE FILE WHAT
  if cmp -s "$1" "$2"; then echo "  same: $3"; else echo "  DIFFERENT: $3 ($1 vs $2)"; fail=1; fi
}

echo "== outputs"
sample="$repo/configs/sample.toml"
for n in 1 2 4; do
  run "$A" "A-sample-np$n" "$n" "$sample"
  run "$B" "B-sample-np$n" "$n" "$sample"
  same "$out/A-sample-np$n.digest" "$out/B-sample-np$n.digest" "sample np $n, A vs B"
  same "$out/A-sample-np1.digest" "$out/B-sample-np$n.digest" "sample np $n vs np 1"
done
for x in A B; do
  b="$A"; [ $x = B ] && b="$B"
  run "$b" "$x-mat" 2 "$sample" --materialize "$out/$x-mat"
  (cd "$out" && "$b" calibrate "$sample" --out "$out/$x.model" > "$out/$x-calibrate.txt" 2>/dev/null)
  sed -i "s|$out/$x.model||" "$out/$x-calibrate.txt"
done
same "$out/A-mat/manifest.json" "$out/B-mat/manifest.json" "materialized mix (manifest with checksums)"
same "$out/A-calibrate.txt" "$out/B-calibrate.txt" "calibrate report"
data="$(gen_corpus "$mb")"
bytes=$(cat "$data"/*.jsonl | wc -c)
echo "== throughput: ${mb} MB generated corpus, np $np, median of $repeat (interleaved)"
rate() {  # H5 -> "count+score MB/s per rank"
  /usr/bin/python3 - "$1" "$bytes" "$np" <<'PY'
import sys, h5py
t = h5py.File(sys.argv[1], "r")["timing"]
names = [n.decode() if isinstance(n, bytes) else n for n in t.attrs["phases"]]
c, s = names.index("count"), names.index("score")
slowest = max(t[r, c] + t[r, s] for r in range(t.shape[0]))
print(int(sys.argv[2]) / slowest / 1e6 / int(sys.argv[3]))
PY
}
declare -A rates walls
for i in $(seq "$repeat"); do
  for x in A B; do
    b="$A"; [ $x = B ] && b="$B"
    t0=$(date +%s.%N)
    run "$b" "$x-gen" "$np" "$data/corpus.toml"
    t1=$(date +%s.%N)
    rates[$x]+="$(rate "$out/$x-gen.h5")"$'\n'
    walls[$x]+="$(echo "$t1 - $t0" | bc -l)"$'\n'
    cp "$out/$x-gen.digest" "$out/$x-gen-$i.digest"
  done
  same "$out/A-gen-$i.digest" "$out/B-gen-$i.digest" "generated corpus run $i, A vs B"
done
ra=$(printf '%s' "${rates[A]}" | median); rb=$(printf '%s' "${rates[B]}" | median)
wa=$(printf '%s' "${walls[A]}" | median); wb=$(printf '%s' "${walls[B]}" | median)
{
  echo "| build | count+score MB/s per rank (median) | wall s (median) |"
  echo "|---|---|---|"
  printf '| A %s | %.1f | %.2f |\n' "$A" "$ra" "$wa"
  printf '| B %s | %.1f | %.2f |\n' "$B" "$rb" "$wb"
  printf '\nB/A throughput ratio %.3f, wall ratio %.3f\n' "$(echo "$rb / $ra" | bc -l)" "$(echo "$wb / $wa" | bc -l)"
} | tee "$out/report.md"
[ $fail = 0 ] && echo "all outputs identical" || echo "OUTPUTS DIFFER"
exit $fail
