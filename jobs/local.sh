#!/usr/bin/env bash
# Quick start: install what is missing (build + runtime packages only; the test-only ones come
# with tests/run.sh), build, and run cleanmix on the bundled sample corpus with 2 MPI ranks.
# Usage: bash jobs/local.sh [config] [ranks]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
source "$repo/scripts/deps.sh"
cleanmix_install_deps
cleanmix_build "$repo/build"
config="${1:-$repo/configs/sample.toml}"
ranks="${2:-2}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
out="$repo/out/sample.h5"
echo "[local] mpirun -np $ranks cleanmix run $config --out $out"
# shellcheck disable=SC2046
mpirun $(cleanmix_mpi_flags) -np "$ranks" "$repo/build/cleanmix" run "$config" --out "$out"
echo
"$repo/build/cleanmix" inspect "$out"
echo
echo "[local] output: $out   (h5dump -H $out  |  /usr/bin/python3 -c 'import h5py; print(list(h5py.File(\"$out\")[\"docs\"]))')"
