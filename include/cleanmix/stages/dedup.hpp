#pragma once
/// \file
/// \brief The dedup stage: distributed near-duplicate clustering (MinHash LSH band keys and
/// exact-text keys shuffled by key, connected components across ranks, one representative per
/// cluster), then the verdict rules that follow from role, decontamination and dedup. Every
/// rank owns a contiguous block of doc_ids; memory per rank is O(local docs × bands) plus its
/// share of the edges.
#include <cstdint>
#include <optional>
#include <vector>

#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/source.hpp"
#include "cleanmix/kernels/signals.hpp"
#include "cleanmix/stages/score.hpp"

namespace cleanmix {

class Communicator;

/// \brief Config section [dedup].
struct DedupParams {
  bool enabled = true;  ///< MinHash LSH + exact duplicates
  int bands = 14, rows = 8, shingle = 5;
  /// \brief The score stage's MinHash parameters (nullopt when dedup is off).
  std::optional<MinHashParams> minHash(std::uint64_t seed) const {
    if (!enabled) return std::nullopt;
    return MinHashParams{bands, rows, shingle, seed};
  }
};

/// \brief The dedup summary (/dedup attributes).
struct DedupSummary {
  bool enabled = false;
  int bands = 0, rows = 0, shingle = 0;
  std::uint64_t candidatePairs = 0, clusters = 0, duplicates = 0, rounds = 0;
  std::uint64_t alltoallvBytesMax = 0;  ///< max over ranks (a /timing attribute)
};

struct DedupInput {
  std::uint64_t docOffset = 0;  ///< global doc_id of local row 0
  int bands = 0;
  std::vector<std::uint64_t> bandKeys;    ///< [local doc][band], 0 = none
  std::vector<std::uint64_t> exactKeys;   ///< hash of the normalised text, 0 = none
  std::vector<std::uint8_t> provRank;     ///< provenanceRank() per local doc
  std::vector<std::uint8_t> participate;  ///< 0: benchmark documents stay out
};

struct DedupResult {
  std::vector<std::int64_t> dupOf;  ///< representative doc_id, or −1 (also for representatives)
  std::uint64_t candidatePairs = 0, clusters = 0, duplicates = 0, rounds = 0;
  std::uint64_t alltoallvBytes = 0;  ///< sent by this rank during the stage
};

/// \brief Collective over `comm`. The result depends only on the documents, not on the ranks.
DedupResult findDuplicates(const Communicator& comm, const DedupInput& in);

/// \brief The dedup stage: fills docs.dupOf and docs.verdict (anchor, benchmark, contaminated,
/// duplicate or keep) from `rows`' keys; `docOffset` is the global doc_id of local row 0.
/// Collective.
DedupSummary runDedup(const Communicator& comm, const DedupParams& params,
                      const std::vector<SourceConfig>& sources, ScoreRows& rows,
                      std::uint64_t docOffset);

}  // namespace cleanmix
