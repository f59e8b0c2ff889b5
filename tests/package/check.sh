#!/usr/bin/env bash
# Install a built cleanmix into a temporary prefix, build a downstream project against it with
# find_package(cleanmix), and run it on the sample config.
# Usage: bash tests/package/check.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="$(cd "$1" && pwd)"
work="$build/package-test"
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; echo "FAIL: find_package(cleanmix) did not configure"; exit 1; }
cmake --build "$work/build" >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log"; echo "FAIL: consumer did not build against the installed cleanmix"; exit 1; }
# The consumer must have been compiled against the installed headers, not the source tree.
grep -q -- "-I$repo/include" "$work/build/CMakeFiles/consumer.dir/flags.make" \
  && { echo "FAIL: consumer saw the source tree's headers"; exit 1; }
out="$("$work/build/consumer" "$repo/configs/sample.toml")"
echo "$out"
n="$(grep -c '^  X(' "$repo/include/cleanmix/core/columns.hpp")"
expected="columns $n first source
tokens 6 norm hello, world! strasse.
sources $(grep -c '^\[\[sources\]\]' "$repo/configs/sample.toml")
driver linked"
[ "$out" = "$expected" ] || { printf 'FAIL: expected\n%s\n' "$expected"; exit 1; }
echo "OK: downstream find_package(cleanmix) builds, links every module and runs"
