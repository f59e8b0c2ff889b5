#pragma once
/// \file
/// \brief Mix sinks: where `run --materialize DIR` writes training data. Each rank gives its
/// sink the records it owns in training order; one implementation per output format, chosen by
/// `[materialize] format` through makeMixSink(). The first is JSON Lines shards, rotated at a
/// size limit, each listed (documents, tokens, bytes, XXH3-64) for the run's manifest.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cleanmix {

/// \brief Config section [materialize].
struct MaterializeParams {
  std::string format = "jsonl";          ///< mixSinkFormats()
  std::uint64_t shardBytes = 64u << 20;  ///< target shard size
};

/// \brief JSON string escaping (quotes, backslash, control characters); UTF-8 passes through.
void appendJsonString(std::string& out, std::string_view s);

/// \brief One record of the mix or the anchor split.
struct MixRecord {
  std::string_view text;
  std::string id;  ///< "source:shard-file:line", the document identity
  std::string source, provenance;
  std::uint64_t docId = 0, tokens = 0;
  std::uint32_t copy = 0;
};

/// \brief This rank's output of one kind ("mix" or "anchor") in one format.
class MixSink {
 public:
  virtual ~MixSink() = default;
  virtual void add(const MixRecord& r) = 0;
  /// \brief Write what is buffered; no add() after it.
  virtual void close() = 0;
  /// \brief This rank's files as manifest entries (one JSON object per line), in writing order.
  virtual const std::string& entries() const = 0;
};

/// \brief The formats makeMixSink() knows ("jsonl").
const std::vector<std::string>& mixSinkFormats();

/// \brief A sink writing `kind` files of this rank into `dir`. Throws ConfigError for a format
/// this build does not write.
std::unique_ptr<MixSink> makeMixSink(const MaterializeParams& params,
                                     const std::filesystem::path& dir, const std::string& kind,
                                     int rank);

}  // namespace cleanmix
