#!/usr/bin/env bash
# The test suite under AddressSanitizer + UBSan (GCC): a separate build in build-asan.
# Usage: bash tests/sanitize.sh [extra ctest args]. Leak checking is off: Open MPI and Kokkos
# keep allocations until exit by design, which LeakSanitizer reports as leaks.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
source "$repo/scripts/deps.sh"
cleanmix_install_deps
build="${CLEANMIX_ASAN_BUILD_DIR:-$repo/build-asan}"
pre="$(cleanmix_mpi_flags | tr ' ' ';')"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCLEANMIX_SANITIZE=ON \
  -DCLEANMIX_BUILD_PERF=OFF "-DMPIEXEC_PREFLAGS=$pre" >/dev/null
cmake --build "$build" -j "$(nproc)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
ctest --output-on-failure -j "$(nproc)" -L "unit|kernel|mpi" "$@"
