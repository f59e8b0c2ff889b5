#!/usr/bin/env bash
# clang-tidy with the repo's .clang-tidy over every src/**/*.cpp of the tree BUILD_DIR was
# configured from, using BUILD_DIR/compile_commands.json, on `nproc` parallel jobs
# (run-clang-tidy when installed, else xargs -P).
# Fails (exit 1) when a bugprone-*, mpi-* or performance-* check warns in the project's own files
# (src/, include/cleanmix/, the generated BUILD_DIR/include/cleanmix/), or when clang cannot
# compile a file (its checks would silently not run). The other checks of .clang-tidy
# (readability-identifier-naming, modernize-*) and compiler warnings are listed, never fatal.
# Diagnostics in Kokkos, MPI, HDF5 and other system headers are ignored.
# Usage: bash tests/check_tidy.sh BUILD_DIR [CLANG_TIDY_EXE]
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,10p' "$0"; exit 2; }
build="$(cd "$1" && pwd)"
tidy="${2:-$(command -v clang-tidy-14 || command -v clang-tidy || true)}"
[ -n "$tidy" ] || { echo "FAIL: clang-tidy is not installed (bash scripts/deps.sh test)"; exit 1; }
tidy="$(command -v "$tidy")" || { echo "FAIL: cannot run ${2:-clang-tidy}"; exit 1; }
db="$build/compile_commands.json"
[ -f "$db" ] || { echo "FAIL: no $db (configure with CMAKE_EXPORT_COMPILE_COMMANDS=ON)"; exit 1; }
# The cleanmix sources BUILD_DIR was configured from (also when cleanmix is a subproject), and
# its build folder (for the generated headers); this script's repo if the cache does not say.
cache() { sed -n "s/^$1=//p" "$build/CMakeCache.txt" 2>/dev/null | head -1; }
root="$(cache cleanmix_SOURCE_DIR:STATIC)"
[ -n "$root" ] || root="$(cd "$(dirname "$0")/.." && pwd)"
gen_root="$(cache cleanmix_BINARY_DIR:STATIC)"
[ -n "$gen_root" ] || gen_root="$build"

mapfile -t files < <(find "$root/src" -name '*.cpp' | sort)
[ ${#files[@]} -gt 0 ] || { echo "FAIL: no sources under $root/src"; exit 1; }
# Every source must be in the compilation database, or clang-tidy would guess its flags.
missing="$(/usr/bin/python3 - "$db" "${files[@]}" <<'PY'
import json, os, sys
db = json.load(open(sys.argv[1]))
known = {os.path.normpath(os.path.join(e["directory"], e["file"])) for e in db}
print("\n".join(f for f in sys.argv[2:] if os.path.normpath(f) not in known))
PY
)"
[ -z "$missing" ] || { printf 'FAIL: not in %s (re-run cmake):\n%s\n' "$db" "$missing"; exit 1; }

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
jobs="$(nproc)"
# run-clang-tidy of the same version: clang-tidy-14 -> run-clang-tidy-14, next to it or on PATH.
v=""
case "$(basename "$tidy")" in clang-tidy-*) v="${tidy##*/clang-tidy}" ;; esac
runner="$(command -v "${tidy%/*}/run-clang-tidy$v" || command -v "run-clang-tidy$v" || true)"
start=$(date +%s)
if [ -n "$runner" ]; then
  # Its file arguments are regexes on the database's paths: one exact match per source.
  mapfile -t regexes < <(/usr/bin/python3 -c 'import re, sys
for f in sys.argv[1:]: print("^" + re.escape(f) + "$")' "${files[@]}")
  "$runner" -clang-tidy-binary "$tidy" -p "$build" -j "$jobs" -quiet "${regexes[@]}" \
    > "$log" 2>&1 || true
else
  # One output file per source, so that parallel outputs do not interleave.
  parts="$(mktemp -d)"
  # shellcheck disable=SC2016  # $0..$3 are expanded by the inner sh
  printf '%s\0' "${files[@]}" |
    xargs -0 -n 1 -P "$jobs" sh -c '"$0" -p "$1" --quiet "$3" > "$2/$(echo "$3" | tr / _)" 2>&1' \
      "$tidy" "$build" "$parts" || true
  cat "$parts"/* > "$log"
  rm -rf "$parts"
fi
secs=$(( $(date +%s) - start ))

# Sort the diagnostics: fatal (bugprone/mpi/performance in own files; clang errors anywhere),
# others in own files (listed), the rest (system headers) ignored.
/usr/bin/python3 - "$log" "$root" "$gen_root" "${#files[@]}" "$secs" <<'PY'
import collections, os, re, sys
log, root, gen_root, secs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5]
nfiles = int(sys.argv[4])
own = [os.path.join(root, "src") + "/", os.path.join(root, "include", "cleanmix") + "/",
       os.path.join(gen_root, "include", "cleanmix") + "/"]
diag = re.compile(r"^(/[^:]+):(\d+):(\d+): (warning|error): (.*?)(?: \[([\w.,-]+)\])?$")
fatal, other, errors = collections.defaultdict(set), collections.defaultdict(set), set()
ansi = re.compile(r"\x1b\[[0-9;]*m")  # run-clang-tidy passes --use-color
for line in open(log, errors="replace"):
    line = ansi.sub("", line.rstrip("\n"))
    if line.startswith(("Error while processing", "Stack dump:", "Segmentation fault")):
        errors.add(line)  # a file clang-tidy gave up on, or a crash
    m = diag.match(line)
    if not m:
        continue
    path, ln, col, kind, msg, checks = m.groups()
    path = os.path.normpath(path)
    rel = os.path.relpath(path, root) if path.startswith(root + "/") else path
    where = f"{rel}:{ln}:{col}"
    if kind == "error":
        errors.add(f"{where}: {msg}")
        continue
    if not any(path.startswith(p) for p in own):
        continue
    for check in (checks or "unknown").split(","):
        if check.startswith("-"):  # "-warnings-as-errors"
            continue
        bucket = fatal if re.match(r"(bugprone|mpi|performance)-", check) else other
        bucket[check].add(f"{where}: {msg}")

def key(s):  # file, then line numerically
    f, ln, rest = s.split(":", 2)
    return (f, int(ln), rest)

def show(title, groups):
    if groups:
        print(title)
    for check in sorted(groups):
        print(f"  [{check}] {len(groups[check])}")
        for s in sorted(groups[check], key=key):
            print(f"    {s}")

show("clang-tidy: not failing (readability / modernize / compiler warnings):", other)
show("clang-tidy: FINDINGS (bugprone-*, mpi-*, performance-*):", fatal)
if errors:
    print("clang-tidy: FAIL, clang could not compile (checks did not run):")
    for e in sorted(errors):
        print(f"    {e}")
n = sum(len(v) for v in fatal.values())
print(f"clang-tidy: {nfiles} files, {n} findings"
      f" ({sum(len(v) for v in other.values())} other warnings, {len(errors)} errors, {secs} s)")
sys.exit(1 if n or errors else 0)
PY
