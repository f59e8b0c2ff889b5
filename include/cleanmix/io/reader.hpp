#pragma once
/// \file
/// \brief The document reader interface: one implementation per input format, chosen by a
/// source's `format` key through makeReader(). A reader yields one record per input record of a
/// piece (for JSONL: per line), either a document's text or a reason to quarantine it, so the
/// record count is the line number and nothing is dropped silently.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cleanmix/core/source.hpp"
#include "cleanmix/io/shards.hpp"

namespace cleanmix {

/// \brief Config section [ingest].
struct IngestParams {
  std::uint64_t maxLineBytes = 16u << 20;  ///< longer lines are quarantined (line_too_long)
  std::uint64_t splitBytes = 64u << 20;    ///< uncompressed shards split into pieces <= this
};

/// \brief One input record.
struct InputRecord {
  std::string_view text;       ///< the document's text (valid until the next call)
  std::string_view reason;     ///< non-empty: the record is quarantined for this reason
  std::uint32_t replaced = 0;  ///< invalid UTF-8 sequences the reader replaced with U+FFFD
  /// The document's group (the source's group_key): its value when present; without a
  /// group_key, the source's name; with one but no string value there, "(missing)".
  std::string_view group;
};

/// \brief The group of a document whose source has a group_key but no string value for it.
inline constexpr std::string_view kMissingGroup = "(missing)";

/// \brief Reads the records of one piece of one shard, in order.
class DocumentReader {
 public:
  virtual ~DocumentReader() = default;
  /// \brief The next record; false at the end of the piece. Throws Error naming the file on
  /// corrupt or truncated input.
  virtual bool next(InputRecord& out) = 0;
  /// \brief Raw (on-disk) bytes consumed so far, for progress (may run ahead of the piece).
  virtual std::uint64_t rawConsumed() const = 0;
};

/// \brief The formats makeReader() knows, for messages ("jsonl").
const std::vector<std::string>& readerFormats();

/// \brief A reader for `piece` of `shard` in `source.format`. Throws ConfigError for a format
/// this build does not read.
std::unique_ptr<DocumentReader> makeReader(const SourceConfig& source, const ShardInfo& shard,
                                           const Piece& piece, const IngestParams& params);

}  // namespace cleanmix
