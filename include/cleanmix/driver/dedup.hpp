#pragma once
/// \file
/// \brief Distributed near-duplicate clustering (the dedup stage). Every rank owns a contiguous
/// block of doc_ids; memory per rank is O(local docs × bands) plus its share of the edges.
#include <cstdint>
#include <vector>

namespace cleanmix {

class Communicator;

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

}  // namespace cleanmix
