#!/usr/bin/env bash
# Wall time of `cleanmix simulate` on the bundled sample (docs/simulate.md "Performance"), against
# a named baseline in the same run: one `cleanmix run` of the sample, since the cleanmix arm is
# one pipeline run per generation.
# Usage: bash perf/simulate.sh [--ranks 2] [--repeat 3] [--seeds 3] [--generations 20]
# Prints one line per contender: median wall seconds over --repeat runs, and the ratio to the
# baseline.
source "$(dirname "$0")/common.sh"
ranks=2 repeat=3 seeds=3 gens=20
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --generations) gens="$2"; shift 2 ;;
    *) sed -n '2,7p' "$0"; exit 2 ;;
  esac
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cfg="$repo/configs/sample.toml"
timed() {  # name, then the cleanmix arguments: prints the median of --repeat wall times
  local name="$1"; shift
  local times=()
  for _ in $(seq "$repeat"); do
    rm -rf "$work/out"
    local t0 t1
    t0=$(date +%s.%N)
    mpirun -n "$ranks" "${mpiflags[@]}" "$bin" "$@" > "$work/log" 2>&1 \
      || { tail -20 "$work/log"; exit 1; }
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '%s\n' "${times[@]}" | median
}
base=$(timed baseline run "$cfg" --out "$work/out.h5")
echo "baseline: cleanmix run on the sample, np $ranks: ${base} s (median of $repeat)"
uni=(simulate "$cfg" --out "$work/out" --generations "$gens" --set "simulate.seeds=$seeds"
     --set 'simulate.arms=["replace","accumulate","accumulate_sample","anchor"]')
tri=(simulate "$cfg" --out "$work/out" --generations "$gens" --set "simulate.seeds=$seeds"
     --set simulate.model=trigram)
t=$(timed unigram "${uni[@]}")
echo "simulate unigram, 4 arms x $seeds seeds x $gens generations: $t s ($(echo "scale=2; $t / $base" | bc) x baseline)"
t=$(timed trigram "${tri[@]}" --set 'simulate.arms=["replace","accumulate","accumulate_sample","anchor"]')
echo "simulate trigram, 4 sampling arms: $t s ($(echo "scale=2; $t / $base" | bc) x baseline)"
t=$(timed cleanmix "${tri[@]}" --set 'simulate.arms=["cleanmix"]')
echo "simulate trigram, cleanmix arm ($((seeds * (gens + 1))) pipeline runs): $t s ($(echo "scale=2; $t / $base" | bc) x baseline)"
