#!/usr/bin/env bash
# Install what is missing (build + runtime and test-only packages), build, and run every test
# (unit, kernel, MPI at np 1/2/4, end to end, fuzz, style).
# Usage: bash tests/run.sh [extra ctest args]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
source "$repo/scripts/deps.sh"
cleanmix_install_deps test
build="${CLEANMIX_BUILD_DIR:-$repo/build}"
cleanmix_build "$build"
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
