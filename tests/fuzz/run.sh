#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang (ASan + UBSan) and run each for a bounded time.
# Usage: bash tests/fuzz/run.sh BUILD_DIR NAME SECONDS   (NAME: jsonl or tokenizer)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="$1"; name="$2"; secs="${3:-20}"
cxx=$(command -v clang++-14 || command -v clang++ || true)
[ -n "$cxx" ] || { echo "FAIL: clang++ not installed (bash scripts/deps.sh)"; exit 1; }
out="$build/fuzz"; mkdir -p "$out/corpus-$name"
srcs=(src/core/error.cpp src/core/types.cpp src/core/utf8.cpp src/io/jsonl.cpp src/io/line_reader.cpp
      src/io/shards.cpp src/tokenize/words.cpp)
bin="$out/fuzz_$name"
if [ ! -x "$bin" ] || [ -n "$(find "$repo/src" "$repo/include" "$repo/tests/fuzz" -newer "$bin" -name '*pp' | head -1)" ]; then
  (cd "$repo" && "$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
     -fno-sanitize-recover=undefined -Iinclude -I"$build/include" \
     "tests/fuzz/fuzz_$name.cpp" "${srcs[@]}" -o "$bin" \
     -lsimdjson -lutf8proc -lzstd -lz -lfmt -lxxhash)
fi
# Seeds: the sample corpus's shards (jsonl) or a few texts (tokenizer).
if [ "$name" = jsonl ]; then
  for f in "$repo"/data/sample/web/*.jsonl "$repo"/data/sample/synthetic/*.jsonl; do
    { printf '\x00'; head -c 3000 "$f"; } > "$out/corpus-$name/seed-$(basename "$f")"
  done
  { printf '\x01'; head -c 40000 "$repo"/data/sample/web/web-000.jsonl.gz; } > "$out/corpus-$name/seed-gz"
  { printf '\x02'; head -c 40000 "$repo"/data/sample/web/web-002.jsonl.zst; } > "$out/corpus-$name/seed-zst"
else
  printf 'Hello, World! Straße e\xcc\x81 \xef\xac\x81ne. 日本語 ٣٤\n\nNext.' > "$out/corpus-$name/seed-1"
fi
ASAN_OPTIONS=detect_leaks=0 "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 \
  -print_final_stats=1 "$out/corpus-$name" 2>&1 | tail -15
echo "fuzz_$name: no crash in ${secs} s"
