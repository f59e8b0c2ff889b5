#pragma once
/// \file
/// \brief The plan stage (DESIGN.md "Mixing plan"): eligibility and quality gates, budget
/// allocation across pool sources (plan/allocate.hpp), importance weights toward the anchor,
/// and integer repeats per document. Collective; the result does not depend on the rank count.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/source.hpp"
#include "cleanmix/stats/vocab_stats.hpp"

namespace cleanmix {

class Communicator;

/// \brief Config section [plan]: the budget, its allocation, and the quality gates.
struct PlanParams {
  bool enabled = true;
  double budget = 0;  ///< tokens; 0 = one epoch of the eligible pool
  std::string allocation = "unimax";
  double alpha = 0.3, maxEpochs = 4, syntheticCap = 0.10, tailBoost = 1.0;
  int maxRepeats = 4;
  /// "after_declared": sources of unknown provenance get only what the declared sources cannot
  /// take; "equal": they compete under the allocation rule like any other source
  std::string unknownProvenance = "after_declared";
  /// every eligible human document is placed at least once when its unit's target covers the
  /// unit's eligible tokens (the tail cannot be kept by repeating some documents and dropping
  /// others)
  bool coverFirst = true;
  double maxDupLineFrac = 0.30, maxTop2gramFrac = 0.20, maxDup5gramFrac = 0.15;
  std::uint64_t minTokens = 50, maxTokens = 100000;
};

/// \brief The plan summary (/plan).
struct PlanSummary {
  bool enabled = false;
  std::string allocation;
  double budget = 0, planned = 0, shortfall = 0, plannedSyntheticShare = 0;
  double maxEpochs = 0, syntheticCap = 0, alpha = 0;
  std::uint64_t realised = 0, realisedSynthetic = 0, maxRepeats = 0;
  bool syntheticCapBinding = false;
  std::string unknownProvenance;  ///< [plan] unknown_provenance
  bool coverFirst = false;        ///< [plan] cover_first
  /// per source: eligible/planned/realised tokens by class (0 human, 1 synthetic), epochs, weight
  std::array<std::vector<double>, 2> eligible, plannedBy;
  std::vector<double> epochs, weight;
  std::array<std::vector<std::uint64_t>, 2> realisedBy;
  /// tail coverage of the mix and of the reference (anchor) unigram (setCoverage)
  VocabStats mix, reference;
  std::vector<std::uint64_t> mixCounts, referenceCounts;  ///< bucket histograms (global)
};

/// \brief Fill docs.repeats and the summary (all but the coverage), update verdicts
/// (low_quality, synthetic_capped). `docOffset` is the global doc_id of local row 0.
PlanSummary runPlan(const Communicator& comm, const PlanParams& params,
                    const std::vector<SourceConfig>& sources, std::uint64_t seed, DocRows& docs,
                    std::uint64_t docOffset);

/// \brief The tail coverage rows: the mix's unigram histogram (from the mix pass) against the
/// reference (the anchor's). Prints the plan's summary line on rank 0.
void setCoverage(PlanSummary& plan, std::vector<std::uint64_t> mixCounts,
                 std::vector<std::uint64_t> referenceCounts, bool root);

}  // namespace cleanmix
