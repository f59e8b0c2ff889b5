// libFuzzer harness for the JSONL reader: the input is written as a plain, gzip or zstd shard
// (first byte selects, with the reader's line limit) and read line by line. Corrupt or truncated archives must raise
// cleanmix::Error; nothing else may escape, crash or trip a sanitizer.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "cleanmix/core/error.hpp"
#include "cleanmix/io/jsonl.hpp"
#include "cleanmix/io/line_reader.hpp"

using namespace cleanmix;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::string base = "/dev/shm/cleanmix-fuzz-" + std::to_string(::getpid());
  const char* ext[] = {".jsonl", ".jsonl.gz", ".jsonl.zst"};
  const std::string path = base + ext[data[0] % 3];
  // The line limit (and with it the reader's buffer) is 4096, 64, 256 or 1024 bytes, so that
  // inputs of a few hundred bytes already cross buffer refills and over-long lines: the fuzzer
  // needs no long inputs to reach them, and short inputs keep its rate up (max_len 4096).
  const std::uint64_t limits[] = {4096, 64, 256, 1024};
  const std::uint64_t maxLine = limits[(data[0] / 3) % 4];
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(data + 1, 1, size - 1, f);
    std::fclose(f);
  }
  const ShardInfo shard{path, 0, size - 1, compressionOf(path)};
  // Plain shards are also read as two pieces split at an arbitrary byte.
  const std::uint64_t cut = size > 2 ? data[1] % (size - 1) : 0;
  const std::vector<Piece> pieces = shard.compression == Compression::None
                                        ? std::vector<Piece>{{0, 0, cut}, {0, cut, size - 1}}
                                        : std::vector<Piece>{{0, 0, size - 1}};
  JsonlParser parser;
  try {
    for (const auto& p : pieces) {
      LineReader reader(shard, p, maxLine);
      Line line;
      while (reader.next(line)) {
        if (line.tooLong) continue;
        const ParsedLine r = parser.parse(line.text, "text");
        if (r.ok && !isValidUtf8(r.text)) __builtin_trap();  // texts must be valid UTF-8
        if (!r.ok && r.reason.empty()) __builtin_trap();     // every bad line has a reason
      }
    }
  } catch (const Error&) {
    // corrupt or truncated archive: the documented outcome
  }
  std::remove(path.c_str());
  return 0;
}
