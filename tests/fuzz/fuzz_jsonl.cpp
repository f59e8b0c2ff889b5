// libFuzzer harness for the JSONL reader: the input is written as a plain, gzip or zstd shard
// (the first byte selects, and also the reader's line limit) and read line by line. Corrupt or
// truncated archives must raise cleanmix::Error; nothing else may escape, crash or trip a
// sanitizer. A plain shard's lines, read whole and read as two pieces, must equal the lines
// by definition (split at '\n'), so that no line is lost, doubled or cut.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cleanmix/core/error.hpp"
#include "cleanmix/io/jsonl.hpp"
#include "cleanmix/io/line_reader.hpp"

using namespace cleanmix;

namespace {

struct Got {
  std::string text;          // the line without '\n' and a trailing '\r' (empty when tooLong)
  std::uint64_t length = 0;  // compared for over-long lines only, the bytes before '\n'
  bool tooLong = false;
  bool operator==(const Got& o) const {
    return tooLong == o.tooLong && (tooLong ? length == o.length : text == o.text);
  }
};

// The lines of a plain shard by definition: split at '\n', a final line without one counts,
// longer than the limit (counting a '\r') is tooLong.
std::vector<Got> linesOf(std::string_view all, std::uint64_t maxLine) {
  std::vector<Got> out;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = all.find('\n', i);
    if (j == std::string_view::npos) j = all.size();
    std::string_view t = all.substr(i, j - i);
    if (t.size() > maxLine) {
      out.push_back({{}, t.size(), true});
    } else {
      if (!t.empty() && t.back() == '\r') t.remove_suffix(1);
      out.push_back({std::string(t), 0, false});
    }
    i = j + 1;
  }
  return out;
}

}  // namespace

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
  const std::uint64_t bytes = size - 1;
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(data + 1, 1, bytes, f);
    std::fclose(f);
  }
  const ShardInfo shard{path, 0, bytes, compressionOf(path)};
  JsonlParser parser;
  // Reads pieces in order; every line is within the limit or flagged, and (when parse) parses
  // to valid UTF-8 or is rejected with a reason.
  auto read = [&](const std::vector<Piece>& pieces, bool parse) {
    std::vector<Got> got;
    for (const auto& p : pieces) {
      LineReader reader(shard, p, maxLine);
      Line line;
      while (reader.next(line)) {
        if (line.tooLong ? line.length <= maxLine : line.text.size() > maxLine) __builtin_trap();
        got.push_back({std::string(line.text), line.length, line.tooLong});
        if (line.tooLong || !parse) continue;
        const ParsedLine r = parser.parse(line.text, "text");
        if (r.ok && !isValidUtf8(r.text)) __builtin_trap();  // texts must be valid UTF-8
        if (!r.ok && r.reason.empty()) __builtin_trap();     // every bad line has a reason
      }
    }
    return got;
  };
  try {
    if (shard.compression == Compression::None) {
      // Whole, and as two pieces cut at a byte the first and last input bytes choose.
      const std::uint64_t cut =
          bytes > 1 ? ((std::uint64_t{data[1]} << 8) | data[size - 1]) % bytes : 0;
      const std::vector<Got> want =
          linesOf({reinterpret_cast<const char*>(data + 1), bytes}, maxLine);
      if (read({{0, 0, bytes}}, true) != want) __builtin_trap();
      if (read({{0, 0, cut}, {0, cut, bytes}}, false) != want) __builtin_trap();
    } else {
      read({{0, 0, bytes}}, true);
    }
  } catch (const Error&) {
    // corrupt or truncated archive: the documented outcome (plain shards have none)
    if (shard.compression == Compression::None) __builtin_trap();
  }
  std::remove(path.c_str());
  return 0;
}
