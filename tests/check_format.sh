#!/usr/bin/env bash
# Fails when any C++ source in the tree differs from its clang-format output.
set -euo pipefail
fmt="${1:-clang-format}"
mapfile -t files < <(git ls-files 'src/*.cpp' 'include/*.hpp' 'tests/*.cpp' 'perf/*.cpp' 2>/dev/null ||
                     find src include tests perf -name '*.cpp' -o -name '*.hpp')
[ ${#files[@]} -gt 0 ] || { echo "no sources found"; exit 1; }
"$fmt" --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
