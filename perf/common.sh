#!/usr/bin/env bash
# Shared preamble of the perf/ scripts (sourced, never run): installs what is missing, builds
# into $repo/build unless CLEANMIX_PERF_NO_BUILD=1, and defines the helpers every script uses.
# Sets: repo, bin, gen, mpiflags (array); defines median, gen_corpus.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/deps.sh"
if [ "${CLEANMIX_PERF_NO_BUILD:-0}" != 1 ]; then
  cleanmix_install_deps perf >/dev/null
  cleanmix_build "$repo/build" >/dev/null
fi
bin="${CLEANMIX_BIN:-$repo/build/cleanmix}"
gen="${CLEANMIX_GEN:-$repo/build/perf/cleanmix_gen_corpus}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
read -r -a mpiflags <<< "$(cleanmix_mpi_flags)"

# Median of the numbers on stdin, one per line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# gen_corpus MB: the generated corpus of MB megabytes (made once, cached in perf/data), warmed
# in the page cache so every contender reads it alike. Prints its folder.
gen_corpus() {
  local data="$repo/perf/data/${1}MB"
  [ -f "$data/corpus.toml" ] || "$gen" "$data" "$1" 64 1 >&2
  cat "$data"/*.jsonl > /dev/null
  echo "$data"
}
