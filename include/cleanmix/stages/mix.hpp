#pragma once
/// \file
/// \brief The mix pass: after the plan, one more read of this rank's pieces, tokenizing only the
/// planned documents (and the anchor's when the audit or materialize needs them). It builds the
/// mix's unigram histogram (the plan's tail coverage) and puts every planned copy in the
/// deterministic training order: each copy gets a counter-based key per (seed, doc_id, copy),
/// independent of the rank count; keys are uniform, so the key space is split into equal
/// ranges and a copy goes to the rank owning its key. That rank receives the copy's tokens (for
/// the audit) and text (for materialize) as typed records (comm/records.hpp), in rounds of the
/// key space when they exceed `roundBytes` per rank (round_spill.hpp). The anchor's windows for
/// the audit's floor are accumulated during the read, without holding the anchor's tokens.
#include <cstdint>
#include <filesystem>
#include <unordered_map>
#include <vector>

#include "cleanmix/comm/records.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/stages/audit.hpp"
#include "cleanmix/stages/input.hpp"
#include "cleanmix/stages/round_spill.hpp"
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
  bool audit = false;                 ///< ship token streams for the audit
  std::uint64_t auditWindow = 65536;  ///< audit: the batch size, for the anchor's windows
  /// texts (materialize) and token buckets (audit) shipped per round at most about this many
  /// bytes per rank; a bigger mix makes the mix pass spill each rank's outgoing records to
  /// `spillDir`, one file per round of the key space, and the materializer and the audit
  /// exchange one round at a time
  std::uint64_t roundBytes = 64u << 20;
  std::filesystem::path spillDir;
};

/// \brief The mix pass's result.
struct MixPass {
  std::vector<std::uint64_t> mixCounts;  ///< global unigram buckets of the planned mix
  std::vector<Copy> copies;  ///< this rank's copies in training order (audit or materialize)
  /// audit, one round: the token buckets of the planned documents, by destination rank (the
  /// audit exchanges them); more rounds: in `tokenSpill`, one file per round
  std::vector<std::vector<DocTokensRecord>> tokensOut;
  RoundSpill tokenSpill;
  WindowStats anchorWindows;  ///< audit: the anchor stream's windows whose first token is mine
  std::vector<DocTextRecord> texts;  ///< materialize, one round: texts of the documents of `copies`
  std::unordered_map<std::uint64_t, std::size_t> textOf;  ///< doc -> index in `texts`
  /// materialize, more rounds: `texts` is empty; round k's outgoing texts are in `textSpill`
  RoundSpill textSpill;
  std::uint32_t rounds = 1;
  /// \brief The round of a copy's key (its slot within the owning rank's key range).
  std::uint32_t roundOf(std::uint64_t key, int ranks) const {
    const std::uint64_t slots = static_cast<std::uint64_t>(ranks) * rounds;
    const auto slot =
        static_cast<std::uint64_t>((static_cast<unsigned __int128>(key) * slots) >> 64);
    return static_cast<std::uint32_t>(slot % rounds);
  }
};

/// \brief Visit this rank's copies in training order, each with its document's record, one round
/// of the key space at a time: `fetch(k)` returns round k's records arriving at this rank (a
/// collective exchange), `visit(copy, record)` is called once per copy. My copies of round k are
/// contiguous in key order, so only one round's records are held. Shared by the audit (token
/// buckets) and materialize (texts); `stage` names the stage in errors (a copy whose record
/// did not arrive, copies left after the last round).
template <class R, class Fetch, class Visit>
void forEachCopyByRound(const MixPass& mix, int rank, int ranks, const char* stage, Fetch&& fetch,
                        Visit&& visit) {
  std::size_t next = 0;
  for (std::uint32_t k = 0; k < mix.rounds; ++k) {
    const std::vector<R> records = fetch(k);
    std::unordered_map<std::uint64_t, std::size_t> recordOf;
    for (std::size_t i = 0; i < records.size(); ++i) recordOf[records[i].doc] = i;
    for (; next < mix.copies.size() && mix.roundOf(mix.copies[next].key, ranks) == k; ++next) {
      const auto it = recordOf.find(mix.copies[next].doc);
      if (it == recordOf.end())
        fail(stage, "rank {}: no record for document {} in round {}", rank, mix.copies[next].doc,
             k);
      visit(mix.copies[next], records[it->second]);
    }
  }
  if (next != mix.copies.size())
    fail(stage, "rank {}: {} copies left after {} rounds", rank, mix.copies.size() - next,
         mix.rounds);
}

/// \brief Run the mix pass over the planned `docs` (repeats filled; `docOffset` the global
/// doc_id of row 0). With `materializer`, the anchor split is streamed to it during the read and
/// the texts of the copies are shipped. Collective.
MixPass runMixPass(const Communicator& comm, const MixPassParams& params, const Corpus& corpus,
                   const Tokenizer& tokenizer, const DocRows& docs, std::uint64_t docOffset,
                   Materializer* materializer, Progress& progress);

}  // namespace cleanmix
