#!/usr/bin/env bash
# Long fuzzing (issue 13): runs each libFuzzer harness for M minutes, one harness after the
# other, and prints executions, exec/s, coverage, corpus size and crashes per harness.
# Usage: bash tests/fuzz.sh --minutes M [--jobs J] [--report FILE] [--merge] [NAMES...]
#   NAMES     harnesses (default: jsonl tokenizer config)
#   --jobs J  J fuzzer processes per harness on one shared corpus (default 1)
#   --report  also write the table as markdown to FILE
#   --merge   afterwards, add a minimal set of the new inputs that reach new edges to
#             tests/fuzz/corpus/NAME, smallest first, within a budget that keeps it small
# The build (harness binaries, working corpora, logs, artifacts) is tests/fuzz/run.sh's: in
# $CLEANMIX_FUZZ_DIR, default $CLEANMIX_BUILD_DIR/fuzz, default build/fuzz. Exit status 1 when a
# harness crashed (or hung, or ran out of memory); its inputs stay in artifacts-NAME there.
# Table columns: executions (stat::number_of_executed_units, summed over jobs), exec/s
# (libFuzzer's average, summed), cov and ft (edges and features, last status line), corpus
# (libFuzzer's live corpus, units/size), files (in the working corpus directory), crash.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=SCRIPTDIR/fuzz/run.sh
source "$repo/tests/fuzz/run.sh"

# Budget of a repository seed corpus after --merge: a few dozen small files.
merge_max_files=40
merge_max_bytes=$((100 * 1024))

usage() { sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
minutes="" jobs=1 report="" merge=0 names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="${2:-}"; shift 2 ;;
    --jobs) jobs="${2:-}"; shift 2 ;;
    --report) report="${2:-}"; shift 2 ;;
    --merge) merge=1; shift ;;
    -h | --help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *) names+=("$1"); shift ;;
  esac
done
[[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "fuzz.sh: --minutes M is required" >&2; usage; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --jobs needs a positive integer" >&2; exit 2; }
[ ${#names[@]} -gt 0 ] || names=("${fuzz_names[@]}")
[ -z "$report" ] || report="$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
secs=$(awk -v m="$minutes" 'BEGIN { s = int(m * 60 + 0.5); print (s < 1 ? 1 : s) }')

fuzz_setup "${CLEANMIX_BUILD_DIR:-$repo/build}"
# Build everything first, so a compile error shows before hours of fuzzing, not after.
for name in "${names[@]}"; do fuzz_build_one "$name"; done

pids=()
stop() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  exit 130
}
trap stop INT TERM

# summarize LOG...: "executions exec/s cov ft corp" over one harness's job logs (sums; cov, ft
# and corp, libFuzzer's live corpus as units/size: the best job's last status line). A job
# killed before its final stats counts its last "#N".
summarize() {
  awk '
    FNR == 1 { if (f) fold(); f = 1; n = 0; e = 0; eps = 0; c = 0; t = 0; k = "-" }
    /^stat::number_of_executed_units:/ { e = $2 }
    /^stat::average_exec_per_sec:/ { eps = $2 }
    /^#[0-9]+\t/ && / cov: / {
      n = substr($1, 2)
      for (i = 2; i < NF; i++) {
        if ($i == "cov:") c = $(i + 1)
        if ($i == "ft:") t = $(i + 1)
        if ($i == "corp:") k = $(i + 1)
      }
    }
    function fold() { E += (e ? e : n); EPS += eps; if (t >= T) { C = c; T = t; K = k } }
    END { if (f) fold(); printf "%d %d %d %d %s\n", E, EPS, C, T, (K == "" ? "-" : K) }' "$@"
}

rows=()
crashed=()
for name in "${names[@]}"; do
  fuzz_plan "$name"
  fuzz_seed_corpus "$name"
  bin="$fuzz_out/fuzz_$name" corpus="$fuzz_out/corpus-$name" art="$fuzz_out/artifacts-$name"
  mkdir -p "$art"
  stamp="$fuzz_out/.long-$name.start"
  touch "$stamp"
  echo "fuzz_$name: ${minutes} min x ${jobs} job(s), log $fuzz_out/long-$name.job*.log" >&2
  rm -f "$fuzz_out/long-$name".job*.log
  pids=() logs=()
  for ((j = 0; j < jobs; j++)); do
    log="$fuzz_out/long-$name.job$j.log"
    logs+=("$log")
    ASAN_OPTIONS=detect_leaks=0 "$bin" -max_total_time="$secs" -max_len="$fuzz_max_len" \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$art/" "$corpus" > "$log" 2>&1 &
    pids+=($!)
  done
  failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  pids=()
  # libFuzzer's artifacts of this run: crash-, timeout-, oom-, leak- (slow-unit- is no failure).
  found="$(find "$art" -maxdepth 1 -type f -newer "$stamp" \
             \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | sort)"
  crash=no
  if [ "$failed" = 1 ] || [ -n "$found" ]; then
    crash=yes
    crashed+=("$name")
    echo "fuzz_$name: FAILED; inputs in $art:" >&2
    [ -z "$found" ] || while read -r f; do echo "  $f"; done <<< "$found" >&2
    grep -h -m1 -E 'SUMMARY|ERROR: libFuzzer|runtime error' "${logs[@]}" >&2 || true
  fi
  read -r execs eps cov ft corp < <(summarize "${logs[@]}")
  # The directory also keeps inputs libFuzzer has since replaced by smaller ones.
  files=$(find "$corpus" -maxdepth 1 -type f | wc -l)
  rows+=("$name|$minutes|$execs|$eps|$cov|$ft|$corp|$files|$crash")
done
trap - INT TERM

# --merge: minimal new inputs (edges only, -use_counters=0, so a few files) into a copy of the
# repository seeds; the smallest of them go back, as many as the budget allows.
if [ "$merge" = 1 ]; then
  for name in "${names[@]}"; do
    fuzz_plan "$name"
    seeds="$repo/tests/fuzz/corpus/$name"
    tmp="$(mktemp -d "$fuzz_out/merge-$name.XXXXXX")"
    cp "$seeds"/* "$tmp"/
    ASAN_OPTIONS=detect_leaks=0 "$fuzz_out/fuzz_$name" -set_cover_merge=1 -use_counters=0 \
      -max_len="$fuzz_max_len" -timeout=10 "$tmp" "$fuzz_out/corpus-$name" \
      > "$fuzz_out/merge-$name.log" 2>&1 ||
      { echo "fuzz_$name: merge failed, see $fuzz_out/merge-$name.log" >&2; rm -rf "$tmp"; continue; }
    n=$(find "$seeds" -maxdepth 1 -type f | wc -l)
    bytes=$(find "$seeds" -maxdepth 1 -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    added=0
    while read -r size f; do
      [ -e "$seeds/$(basename "$f")" ] && continue
      if [ $((n + 1)) -gt $merge_max_files ] || [ $((bytes + size)) -gt $merge_max_bytes ]; then break; fi
      cp "$f" "$seeds"/
      n=$((n + 1)) bytes=$((bytes + size)) added=$((added + 1))
    done < <(find "$tmp" -maxdepth 1 -type f -printf '%s %p\n' | sort -n)
    echo "fuzz_$name: merged $added new input(s) into tests/fuzz/corpus/$name ($n files, $((bytes / 1024)) KB)" >&2
    rm -rf "$tmp"
  done
fi

header="harness|minutes|executions|exec/s|cov|ft|corpus|files|crash"
echo
{ echo "$header"; printf '%s\n' "${rows[@]}"; } | column -t -s '|'
if [ -n "$report" ]; then
  {
    echo "| ${header//|/ | } |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
  } > "$report"
  echo "report: $report"
fi
if [ ${#crashed[@]} -gt 0 ]; then
  for name in "${crashed[@]}"; do echo "CRASH in fuzz_$name: inputs in $fuzz_out/artifacts-$name"; done
  exit 1
fi
