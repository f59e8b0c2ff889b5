#pragma once
/// \file
/// \brief Token-budget allocation across pool sources (DESIGN.md "Mixing plan"): a pure function
/// of reduced numbers, testable without MPI.
///
/// Each source contributes a human unit and a synthetic unit (SK documents, and documents the
/// classifier inferred synthetic_suspected). The rule sets source shares:
///   proportional  w_s = E_s;   temperature  w_s = E_s^α;   unimax  w_s = 1
/// and water-filling enforces the epoch cap (planned_s ≤ max_epochs · E_s), giving what a capped
/// source cannot take to the others in proportion to their weights. When the synthetic cap
/// binds (SK + SS tokens > synthetic_cap · planned), human units take (1 − c) of the tokens
/// (water-filled over units with epoch headroom) and the synthetic units are scaled to exactly
/// c / (1 − c) of the human tokens placed. What no unit can take is the shortfall. Caps are
/// never exceeded.
///
/// Tiers: sources of tier 0 (declared provenance) are filled first, by the rule and their epoch
/// caps; sources of tier 1 (`unknown` provenance, under [plan] unknown_provenance =
/// "after_declared") only get what tier 0 cannot take. The same order holds when the synthetic
/// cap moves tokens to human units. With every source in tier 0 this is the plain rule.
#include <cstdint>
#include <string>
#include <vector>

namespace cleanmix {

enum class Allocation { Proportional, Temperature, UniMax };

struct AllocationParams {
  double budget = 0;  ///< tokens
  Allocation allocation = Allocation::UniMax;
  double alpha = 0.3;  ///< temperature exponent
  double maxEpochs = 4;
  double syntheticCap = 0.10;  ///< share of planned tokens; 1 = no cap
};

struct PlanSourceIn {
  double eligibleHuman = 0, eligibleSynthetic = 0;  ///< eligible tokens per class
  int tier = 0;  ///< 0 declared provenance, 1 unknown (filled after tier 0)
};

struct PlanSourceOut {
  double plannedHuman = 0, plannedSynthetic = 0;
  double planned() const { return plannedHuman + plannedSynthetic; }
  double epochs = 0;  ///< planned / eligible
  double weight = 0;  ///< planned / budget
};

struct PlanResult {
  std::vector<PlanSourceOut> sources;
  double planned = 0, shortfall = 0, syntheticShare = 0;
  bool syntheticCapBinding = false;
};

/// \brief The plan. Throws Error (core/error.hpp) for bad parameters.
PlanResult allocateBudget(const std::vector<PlanSourceIn>& sources, const AllocationParams& p);

/// \brief Parse "proportional", "temperature", "unimax".
bool parseAllocation(const std::string& s, Allocation& out);

}  // namespace cleanmix
