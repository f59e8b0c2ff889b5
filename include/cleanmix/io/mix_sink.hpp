#pragma once
/// \file
/// \brief Mix sinks: where `run --materialize DIR` writes training data. Each rank gives its
/// sink the records it owns in training order; one implementation per output format, chosen by
/// `[materialize] format` through makeMixSink(). The first is JSON Lines shards, rotated at a
/// size limit, each listed (documents, tokens, bytes, XXH3-64) for the run's manifest. The second
/// is Megatron-Core's indexed dataset (`.bin/.idx`, docs/megatron.md) with a provenance sidecar
/// per shard; "both" writes the two side by side.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cleanmix {

/// \brief Config section [materialize].
struct MaterializeParams {
  std::string format = "jsonl";          ///< mixSinkFormats()
  std::uint64_t shardBytes = 64u << 20;  ///< target shard size (JSONL bytes; Megatron .bin bytes)
  std::uint64_t roundBytes = 64u << 20;  ///< per rank per round: texts + audit buckets (4 B each)
};

/// \brief What the Megatron sink needs of the run's tokenizer (io does not depend on tokenize).
struct SinkTokenizer {
  std::function<void(std::string_view, std::vector<std::uint64_t>&)> encode;  ///< model ids
  std::uint64_t vocabSize = 0;  ///< 0: hashed ids (the `words` tokenizer): no Megatron output
  std::int64_t eod = -1;
  bool appendEod = false;
  std::string description;  ///< for errors, e.g. "tiktoken cl100k_base"
};

/// \brief Names the sidecar's index columns refer to.
struct SidecarNames {
  std::vector<std::string> sources, inputShards, provenance;
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
  std::uint32_t sourceIndex = 0, inputShard = 0;  ///< indices into SidecarNames
  std::uint64_t line = 0;                         ///< 1-based line in the input shard
  std::uint8_t declared = 0, inferred = 0;        ///< provenance codes
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
  /// \brief "jsonl" or "megatron".
  virtual std::string_view format() const = 0;
};

/// \brief The formats makeMixSink() knows ("jsonl", "megatron", "both").
const std::vector<std::string>& mixSinkFormats();

/// \brief The sinks writing `kind` files of this rank into `dir` (one per format; "both": JSONL
/// then Megatron, the latter under dir/megatron). Throws ConfigError for a format this build does
/// not write, or Megatron output with a tokenizer without model ids.
std::vector<std::unique_ptr<MixSink>> makeMixSinks(const MaterializeParams& params,
                                                   const std::filesystem::path& dir,
                                                   const std::string& kind, int rank,
                                                   const SinkTokenizer& tokenizer,
                                                   const SidecarNames& names);

/// \brief Megatron-Core's dtype for a vocabulary (preprocess_data.py's optimal_dtype: uint16
/// below 65,500 ids, else int32): "uint16" or "int32".
std::string_view megatronDtype(std::uint64_t vocabSize);

}  // namespace cleanmix
