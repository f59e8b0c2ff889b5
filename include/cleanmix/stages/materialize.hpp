#pragma once
/// \file
/// \brief The materialize stage (`run --materialize DIR`): the planned mix in its training order
/// and the anchor split, written through mix sinks (io/mix_sink.hpp) in the format
/// `[materialize] format` names, and DIR/manifest.json listing every file in training order
/// with its documents, tokens, bytes and XXH3-64 checksum. Megatron output adds
/// DIR/megatron/{mix,anchor}.weights (Megatron's `--data-path` blend: weight prefix ...).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "cleanmix/comm/records.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/io/mix_sink.hpp"
#include "cleanmix/stages/input.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix {

class Communicator;
struct MixPass;

/// \brief Writes one run's training data. Collective where noted.
class Materializer {
 public:
  /// \brief Rank 0 creates `dir` (every rank learns the outcome); each rank opens its sinks.
  /// Collective.
  Materializer(const Communicator& comm, const MaterializeParams& params, std::filesystem::path dir,
               const Corpus& corpus, const Tokenizer& tokenizer);
  /// \brief One anchor document (row `row` of `docs`, global `doc`), in doc_id order.
  void addAnchor(const DocRows& docs, std::size_t row, std::uint64_t doc, std::string_view text,
                 std::uint64_t tokens);
  /// \brief The mix: this rank's copies in training order, with their shipped texts; then the
  /// manifest. Collective.
  void finish(MixPass& mix, std::uint64_t seed, std::uint64_t realisedTokens);

 private:
  std::string identity(std::uint32_t source, std::uint32_t shard, std::uint64_t line) const;
  const Communicator& _comm;
  std::filesystem::path _dir;
  const Corpus& _corpus;
  const Tokenizer& _tokenizer;
  SinkTokenizer _sinkTok;  // the sinks keep references to these two
  SidecarNames _names;
  std::vector<std::unique_ptr<MixSink>> _mix, _anchor;
};

/// \brief Every rank's entries of one format and kind, in rank order (= training order).
struct ManifestPart {
  std::string format, kind, entries;
};

/// \brief Rank 0 writes DIR/manifest.json from every rank's sink entries (rank order = training
/// order for the mix) and, for Megatron output, the weights files. Collective.
void writeManifest(const Communicator& comm, const std::filesystem::path& dir,
                   const std::vector<ManifestPart>& parts, std::uint64_t seed,
                   std::uint64_t mixTokens, const TokenizerIdentity& tokenizer);

}  // namespace cleanmix
