// The allocation function of the mixing plan (no MPI).
#include <gtest/gtest.h>

#include "cleanmix/core/error.hpp"
#include "cleanmix/plan/allocate.hpp"

using namespace cleanmix;

namespace {
std::vector<PlanSourceIn> ledger() {  // 1B, 10B, 100B, 1T human tokens
  return {{1e9, 0}, {1e10, 0}, {1e11, 0}, {1e12, 0}};
}
}  // namespace

TEST(Plan, TemperatureEpochs) {
  AllocationParams p;
  p.budget = 1e12;
  p.allocation = Allocation::Temperature;
  p.alpha = 0.3;
  p.maxEpochs = 1e9;  // uncapped, as in the reference figures
  const auto r = allocateBudget(ledger(), p);
  EXPECT_NEAR(r.sources[0].epochs, 67.0, 0.05);
  EXPECT_NEAR(r.sources[1].epochs, 13.4, 0.05);
  EXPECT_NEAR(r.sources[2].epochs, 2.67, 0.005);
  EXPECT_NEAR(r.sources[3].epochs, 0.53, 0.005);
  EXPECT_NEAR(r.planned, 1e12, 1);
}

TEST(Plan, UniMaxEpochs) {
  AllocationParams p;
  p.budget = 1e12;
  p.allocation = Allocation::UniMax;
  p.maxEpochs = 4;
  const auto r = allocateBudget(ledger(), p);
  EXPECT_NEAR(r.sources[0].epochs, 4, 1e-9);
  EXPECT_NEAR(r.sources[1].epochs, 4, 1e-9);
  EXPECT_NEAR(r.sources[2].epochs, 4, 1e-9);
  EXPECT_NEAR(r.sources[3].epochs, 0.556, 0.0005);
  EXPECT_NEAR(r.planned, 1e12, 1);
  EXPECT_EQ(r.shortfall, 0);
}

TEST(Plan, ProportionalIsProportional) {
  AllocationParams p;
  p.budget = 5.555e11;  // half of 1.111e12
  p.allocation = Allocation::Proportional;
  const auto r = allocateBudget(ledger(), p);
  for (const auto& s : r.sources) EXPECT_NEAR(s.epochs, 0.5, 1e-9);
}

TEST(Plan, EpochCapsHoldAndShortfallIsReported) {
  for (auto alloc : {Allocation::Proportional, Allocation::Temperature, Allocation::UniMax}) {
    AllocationParams p;
    p.budget = 1e13;  // more than 4 epochs of everything (4.444e12)
    p.allocation = alloc;
    const auto r = allocateBudget(ledger(), p);
    for (const auto& s : r.sources) EXPECT_LE(s.epochs, 4 + 1e-9);
    EXPECT_NEAR(r.planned, 4 * 1.111e12, 1e3);
    EXPECT_NEAR(r.shortfall, 1e13 - 4 * 1.111e12, 1e3);
  }
}

TEST(Plan, SyntheticCapHoldsAndFreedTokensGoToHumans) {
  // A mostly synthetic pool and a small human one: 10% cap.
  const std::vector<PlanSourceIn> src{{2e9, 0}, {0, 5e10}, {1e9, 1e9}};
  for (auto alloc : {Allocation::Proportional, Allocation::Temperature, Allocation::UniMax}) {
    AllocationParams p;
    p.budget = 1e10;
    p.allocation = alloc;
    p.syntheticCap = 0.1;
    const auto r = allocateBudget(src, p);
    EXPECT_LE(r.syntheticShare, 0.1 + 1e-9);
    EXPECT_TRUE(r.syntheticCapBinding);
    for (const auto& s : r.sources) EXPECT_LE(s.epochs, 4 + 1e-9);
    // Human tokens can reach at most 4 x 3e9 = 1.2e10 > budget, so the budget is met.
    EXPECT_NEAR(r.planned, 1e10, 1e3);
    EXPECT_EQ(r.shortfall, 0);
  }
}

TEST(Plan, SyntheticCapWithoutHumanHeadroomLeavesAShortfall) {
  const std::vector<PlanSourceIn> src{{1e9, 0}, {0, 1e11}};
  AllocationParams p;
  p.budget = 1e11;
  p.syntheticCap = 0.2;
  const auto r = allocateBudget(src, p);
  EXPECT_NEAR(r.sources[0].plannedHuman, 4e9, 1);      // human source at its epoch cap
  EXPECT_NEAR(r.sources[1].plannedSynthetic, 1e9, 1);  // S = 0.2 / 0.8 * H
  EXPECT_NEAR(r.syntheticShare, 0.2, 1e-12);
  EXPECT_NEAR(r.shortfall, 1e11 - 5e9, 1);
}

TEST(Plan, BadParametersThrow) {
  AllocationParams p;
  p.budget = -1;
  EXPECT_THROW(allocateBudget(ledger(), p), Error);
}

TEST(Plan, SyntheticCapIsUsedFullyWhenHumansCanAbsorbTheRest) {
  const std::vector<PlanSourceIn> src{{0, 0}, {2e5, 4e4}, {0, 6.6e4}};
  AllocationParams p;
  p.budget = 5e5;
  p.syntheticCap = 0.1;
  const auto r = allocateBudget(src, p);
  EXPECT_NEAR(r.syntheticShare, 0.1, 1e-12);
  EXPECT_NEAR(r.planned, 5e5, 1e-6);
}

TEST(Plan, UnknownProvenanceTierGetsOnlyWhatDeclaredSourcesCannotTake) {
  // A declared human source (tier 0) of 1e9 tokens and an unknown one (tier 1) of 1e10.
  for (auto alloc : {Allocation::Proportional, Allocation::Temperature, Allocation::UniMax}) {
    AllocationParams p;
    p.allocation = alloc;
    p.syntheticCap = 1;
    p.budget = 3e9;  // within the declared source's 4 epochs: the unknown source gets nothing
    std::vector<PlanSourceIn> src{{1e9, 0, 0}, {1e10, 0, 1}};
    auto r = allocateBudget(src, p);
    EXPECT_NEAR(r.sources[0].plannedHuman, 3e9, 1);
    EXPECT_EQ(r.sources[1].planned(), 0);
    p.budget = 6e9;  // beyond it: the declared source is capped at 4e9, the rest spills over
    r = allocateBudget(src, p);
    EXPECT_NEAR(r.sources[0].plannedHuman, 4e9, 1);
    EXPECT_NEAR(r.sources[1].plannedHuman, 2e9, 1);
    EXPECT_EQ(r.shortfall, 0);
    // With every source in tier 0 the rule shares the budget as before.
    src[1].tier = 0;
    r = allocateBudget(src, p);
    EXPECT_GT(r.sources[1].plannedHuman, 2e9);
  }
}

TEST(Plan, SyntheticCapMovesTokensToDeclaredHumansFirst) {
  // Synthetic declared source, a declared human one and an unknown human one; 10% cap.
  const std::vector<PlanSourceIn> src{{0, 1e10, 0}, {2e9, 0, 0}, {1e10, 0, 1}};
  AllocationParams p;
  p.budget = 4e9;
  p.syntheticCap = 0.1;
  const auto r = allocateBudget(src, p);
  EXPECT_NEAR(r.syntheticShare, 0.1, 1e-9);
  EXPECT_NEAR(r.sources[1].plannedHuman, 0.9 * 4e9, 1e3);  // the declared human unit takes it
  EXPECT_NEAR(r.sources[2].planned(), 0, 1e-6);
}
