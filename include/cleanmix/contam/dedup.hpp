#pragma once
/// \file
/// \brief Pure pieces of near-duplicate detection: candidate edges from LSH buckets and the
/// cluster representative rule (DESIGN.md). The distributed choreography is in driver/dedup.
#include <cstdint>
#include <utility>
#include <vector>

#include "cleanmix/core/types.hpp"

namespace cleanmix {

/// \brief A document under one bucket key (an LSH band key or its exact-text key).
struct KeyedDoc {
  std::uint64_t key = 0;
  std::uint64_t doc = 0;
};

/// \brief Sort by (key, doc) and connect every member of a bucket to the bucket's smallest doc
/// (a star per bucket: same components as the clique, linear in the bucket size). Edges are
/// (smaller, larger) and unique.
std::vector<std::pair<std::uint64_t, std::uint64_t>> candidateEdges(std::vector<KeyedDoc>& items);

/// \brief Representative order: HV < HU < unknown < SS < SK, then the smallest doc_id.
inline std::uint8_t provenanceRank(Provenance p) {
  switch (p) {
    case Provenance::HumanVerified: return 0;
    case Provenance::HumanUnverified: return 1;
    case Provenance::Unknown: return 2;
    case Provenance::SyntheticSuspected: return 3;
    case Provenance::SyntheticKnown: return 4;
  }
  return 5;
}

/// \brief Analytic LSH S-curve: P(two documents with Jaccard j share at least one band).
double lshCandidateProbability(double jaccard, int bands, int rows);

}  // namespace cleanmix
