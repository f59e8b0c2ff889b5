#pragma once
/// \file
/// \brief Streaming line reader over plain, gzip and zstd shards. Memory is bounded by the line
/// size limit: longer lines are reported as too long and skipped without being buffered.
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "cleanmix/io/shards.hpp"

namespace cleanmix {

/// \brief Source of decompressed bytes.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// \brief Fill up to n bytes; returns 0 only at the end of the stream. Throws on corruption or
  /// truncation (message names the file).
  virtual std::size_t read(char* dst, std::size_t n) = 0;
  /// \brief Raw (on-disk) bytes consumed so far, for progress.
  virtual std::uint64_t rawConsumed() const = 0;
};

/// \brief Open a shard (or a byte range of a plain one) as decompressed bytes.
std::unique_ptr<ByteSource> openByteSource(const ShardInfo& shard, std::uint64_t begin,
                                           std::uint64_t end);

/// \brief One physical input line.
struct Line {
  std::string_view text;  ///< without the newline (and a trailing '\r'); readable padding follows
  std::uint64_t length = 0;  ///< full length in bytes, also when tooLong
  bool tooLong = false;      ///< longer than the limit: text is empty, the line was skipped
};

/// \brief Reads the lines of one piece. For a byte range [b, e) of a plain shard it yields the
/// lines that start in [b, e): it skips the partial line before b and reads past e to finish the
/// last one. A final line without a newline counts as a line.
class LineReader {
 public:
  static constexpr std::size_t kPadding = 64;  ///< >= SIMDJSON_PADDING, checked in jsonl.cpp

  LineReader(const ShardInfo& shard, const Piece& piece, std::uint64_t maxLineBytes);
  bool next(Line& out);
  std::uint64_t rawConsumed() const { return _src->rawConsumed(); }

 private:
  bool fill();  // read more into the buffer; false at end of stream

  std::unique_ptr<ByteSource> _src;
  std::uint64_t _maxLine;
  std::uint64_t _pos;     // stream offset (plain: file offset) of _buf[_head]
  std::uint64_t _stopAt;  // lines starting at or after this offset belong to the next piece
  std::vector<char> _buf;
  std::size_t _head = 0, _tail = 0;
  bool _eof = false;
  bool _started = false;
  bool _done = false;
  const ShardInfo* _shard;
};

}  // namespace cleanmix
