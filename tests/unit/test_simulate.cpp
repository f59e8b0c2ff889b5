// The collapse simulation's pure parts against closed forms: the Wright–Fisher homozygosity
// recursion, the Zipf source, the counter-based stream, the metrics on hand-computed counts.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "cleanmix/simulate/collapse.hpp"

namespace sim = cleanmix::sim;

TEST(Simulate, CounterStreamDependsOnlyOnItsKey) {
  sim::CounterRng a(7, 1, 2, 3), b(7, 1, 2, 3), c(7, 1, 2, 4), d(8, 1, 2, 3);
  for (int i = 0; i < 4; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    EXPECT_NE(x, c.next());
    EXPECT_NE(x, d.next());
  }
}

TEST(Simulate, BelowIsUniform) {
  // Chi-square over 10 cells, 100,000 draws: 99.9% critical value for 9 dof is 27.9.
  sim::CounterRng rng(1, 2, 3, 4);
  std::vector<double> cells(10, 0);
  const int n = 100000;
  for (int i = 0; i < n; ++i) cells[rng.below(10)] += 1;
  double chi2 = 0;
  for (double c : cells) chi2 += (c - n / 10.0) * (c - n / 10.0) / (n / 10.0);
  EXPECT_LT(chi2, 27.9);
}

TEST(Simulate, CategoricalDrawsInProportionAndNeverAZeroWeight) {
  const std::vector<std::uint64_t> w{0, 1, 0, 3, 0};
  sim::Categorical cat(w);
  EXPECT_EQ(cat.total(), 4u);
  sim::CounterRng rng(3, 0, 0, 0);
  std::vector<int> seen(w.size(), 0);
  for (int i = 0; i < 40000; ++i) ++seen[cat.draw(rng)];
  EXPECT_EQ(seen[0] + seen[2] + seen[4], 0);
  EXPECT_NEAR(seen[3] / 40000.0, 0.75, 0.01);
}

TEST(Simulate, ZipfWeightsFollowThePowerLaw) {
  const auto w = sim::zipfWeights(10000, 1.07);
  ASSERT_EQ(w.size(), 10000u);
  EXPECT_NEAR(static_cast<double>(w[0]) / w[1], std::pow(2.0, 1.07), 1e-9);
  EXPECT_NEAR(static_cast<double>(w[9]) / w[99], std::pow(10.0, 1.07), 1e-6);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  EXPECT_NEAR(total, std::ldexp(1.0, 40), std::ldexp(1.0, 40) * 1e-9);
  EXPECT_THROW(sim::zipfWeights(0, 1.0), std::exception);
}

TEST(Simulate, MetricsOnHandComputedCounts) {
  const std::vector<std::uint64_t> c{4, 2, 1, 1, 0};
  EXPECT_DOUBLE_EQ(sim::chao1(c), 4 + 2.0 * 2.0 / (2 * 1));  // f1 = 2, f2 = 1
  const std::vector<std::uint64_t> noDoubles{3, 1, 1, 1};
  EXPECT_DOUBLE_EQ(sim::chao1(noDoubles), 4 + 3.0 * 2.0 / 2);  // bias-corrected
  // p = (1/2, 1/4, 1/8, 1/8): H = 1.75 bits, Σp² = 1/4 + 1/16 + 2/64
  EXPECT_DOUBLE_EQ(sim::entropyBits(c), 1.75);
  EXPECT_DOUBLE_EQ(sim::homozygosity(c), 0.25 + 0.0625 + 2.0 / 64);
  const std::vector<std::uint64_t> ref{1, 1, 1, 1, 1};
  EXPECT_DOUBLE_EQ(sim::typesKept(ref, c), 0.8);
  // add-k with k = 1 over V = 5, C = 8: q = (5, 3, 2, 2, 1) / 13
  const std::vector<std::uint64_t> held{1, 0, 0, 0, 1};
  EXPECT_NEAR(sim::smoothedPerplexity(c, held, 1.0), std::sqrt(13.0 / 5 * 13.0 / 1), 1e-12);
  // KL(uniform over 5 || q) = Σ 1/5 log2((1/5) / q_i)
  double kl = 0;
  for (double q : {5.0, 3.0, 2.0, 2.0, 1.0}) kl += 0.2 * std::log2(0.2 / (q / 13));
  EXPECT_NEAR(sim::klBits(ref, c, 1.0), kl, 1e-12);
}

TEST(Simulate, TailIsFixedByReferenceRank) {
  const std::vector<std::uint64_t> ref{1, 9, 5, 5, 0};
  const auto order = sim::rankOrder(ref);
  EXPECT_EQ(order, (std::vector<std::uint32_t>{1, 2, 3, 0, 4}));  // ties by id
  const auto tail = sim::tailSet(ref, 2);
  EXPECT_EQ(tail, (std::vector<std::uint8_t>{1, 0, 0, 1, 1}));
  const std::vector<std::uint64_t> model{2, 2, 2, 2, 2};
  EXPECT_DOUBLE_EQ(sim::tailMass(model, tail), 0.6);
}

TEST(Simulate, ChooseSubsetIsDistinctSortedAndUniform) {
  std::vector<double> hits(20, 0);
  for (std::uint64_t t = 0; t < 20000; ++t) {
    sim::CounterRng rng(5, 9, t, 0);
    const auto s = sim::chooseSubset(20, 5, rng);
    ASSERT_EQ(s.size(), 5u);
    ASSERT_TRUE(std::is_sorted(s.begin(), s.end()));
    ASSERT_EQ(std::set<std::uint64_t>(s.begin(), s.end()).size(), 5u);
    for (auto x : s) hits[x] += 1;
  }
  for (double h : hits) EXPECT_NEAR(h / 20000, 0.25, 0.015);
  sim::CounterRng rng(1, 1, 1, 1);
  EXPECT_EQ(sim::chooseSubset(4, 4, rng), (std::vector<std::uint64_t>{0, 1, 2, 3}));
  EXPECT_THROW(sim::chooseSubset(3, 4, rng), std::exception);
}

// Pure multinomial resampling of n tokens per generation from the empirical distribution of the
// last: 1 − E[Σp²] shrinks by (1 − 1/n) a generation, whatever the distribution. V = 1,000 Zipf
// (s = 1.07), n = 1,000, 2,000 replicates: the mean must sit within 4 standard errors of
// 1 − (1 − 1/n)^g (1 − S₀), where g counts resamplings from the source (generation 0 is the
// first draw, so generation k of the simulation is g = k + 1).
TEST(Simulate, WrightFisherHomozygosityMatchesTheClosedForm) {
  const std::size_t v = 1000;
  const std::uint64_t n = 1000;
  const auto source = sim::zipfWeights(v, 1.07);
  const double s0 = sim::homozygosity(source);
  EXPECT_NEAR(s0, 0.0417, 5e-4);
  const int reps = 2000, gens = 50;
  std::vector<double> sum(gens + 1, 0), sumSq(gens + 1, 0);
  for (int r = 0; r < reps; ++r) {
    std::vector<std::uint64_t> counts = source;
    for (int g = 0; g <= gens; ++g) {
      sim::Categorical model(counts);
      std::vector<std::uint64_t> next(v, 0);
      sim::CounterRng rng(11, 0, static_cast<std::uint64_t>(g), static_cast<std::uint64_t>(r));
      for (std::uint64_t i = 0; i < n; ++i) ++next[model.draw(rng)];
      counts.swap(next);
      const double s = sim::homozygosity(counts);
      sum[g] += s;
      sumSq[g] += s * s;
    }
  }
  for (int g : {0, 9, 10, 49, 50}) {
    const double mean = sum[g] / reps;
    const double se = std::sqrt((sumSq[g] / reps - mean * mean) / reps);
    const double expect = sim::wrightFisherHomozygosity(s0, static_cast<double>(n), g + 1);
    EXPECT_NEAR(mean, expect, 4 * se) << "generation " << g << " (g = " << g + 1 << ")";
  }
  // The reference figures (0.0516 at g = 10, 0.0901 at g = 50) against the closed form:
  EXPECT_NEAR(sim::wrightFisherHomozygosity(s0, 1000, 10), 0.0516, 0.001);
  EXPECT_NEAR(sim::wrightFisherHomozygosity(s0, 1000, 50), 0.0901, 0.0025);
}
