#pragma once
/// \file
/// \brief The mix pass: after the plan, one more read of this rank's pieces, tokenizing only the
/// planned documents (and the anchor's when the audit or materialize needs them). It builds the
/// mix's unigram histogram (the plan's tail coverage) and puts every planned copy in the
/// deterministic training order: each copy gets a counter-based key per (seed, doc_id, copy),
/// independent of the rank count; keys are uniform, so the key space is split into equal
/// ranges and a copy goes to the rank owning its key. That rank receives the copy's tokens (for
/// the audit) and text (for materialize) as typed records (comm/records.hpp).
#include <cstdint>
#include <filesystem>
#include <unordered_map>
#include <vector>

#include "cleanmix/comm/records.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/stages/audit.hpp"
#include "cleanmix/stages/input.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix {

class Communicator;
class Materializer;

/// \brief The training-order key of copy k of a document.
std::uint64_t copyKey(std::uint64_t seed, std::uint64_t docId, std::uint32_t copy);

/// \brief One planned copy of a document.
struct Copy {
  std::uint64_t key, doc, tokens, copy;
};

/// \brief What the mix pass needs.
struct MixPassParams {
  std::uint64_t seed = 42;
  int vocabBits = 20;
  IngestParams ingest;
  std::uint64_t batchBytes = 8u << 20;
  bool audit = false;  ///< ship token streams for the audit
  /// materialize: texts shipped per round at most about this many bytes per rank; more planned
  /// text makes the mix pass spill each rank's outgoing texts to `spillDir`, one file per round
  /// of the key space, and the materializer exchanges and writes one round at a time
  std::uint64_t roundBytes = 256u << 20;
  std::filesystem::path spillDir;
};

/// \brief The mix pass's result.
struct MixPass {
  std::vector<std::uint64_t> mixCounts;  ///< global unigram buckets of the planned mix
  std::vector<Copy> copies;  ///< this rank's copies in training order (audit or materialize)
  std::vector<DocTokensRecord> tokens;  ///< audit: token buckets of the documents of `copies`
  std::unordered_map<std::uint64_t, std::size_t> tokensOf;  ///< doc -> index in `tokens`
  std::vector<StreamSegment> anchorStream;  ///< audit: this rank's anchor docs, doc_id order
  std::vector<DocTextRecord> texts;         ///< materialize: texts of the documents of `copies`
  std::unordered_map<std::uint64_t, std::size_t> textOf;  ///< doc -> index in `texts`
  /// materialize in rounds (rounds > 1): `texts` is empty; round k's outgoing texts are in
  /// spillFiles[k] as (u32 destination rank, DocTextRecord) pairs
  std::uint32_t rounds = 1;
  std::vector<std::filesystem::path> spillFiles;
  /// \brief The round of a copy's key (its slot within the owning rank's key range).
  std::uint32_t roundOf(std::uint64_t key, int ranks) const {
    const std::uint64_t slots = static_cast<std::uint64_t>(ranks) * rounds;
    const auto slot =
        static_cast<std::uint64_t>((static_cast<unsigned __int128>(key) * slots) >> 64);
    return static_cast<std::uint32_t>(slot % rounds);
  }
};

/// \brief Run the mix pass over the planned `docs` (repeats filled; `docOffset` the global
/// doc_id of row 0). With `materializer`, the anchor split is streamed to it during the read and
/// the texts of the copies are shipped. Collective.
MixPass runMixPass(const Communicator& comm, const MixPassParams& params, const Corpus& corpus,
                   const Tokenizer& tokenizer, const DocRows& docs, std::uint64_t docOffset,
                   Materializer* materializer, Progress& progress);

}  // namespace cleanmix
