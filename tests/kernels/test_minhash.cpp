// MinHash LSH in the score kernel: the fraction of document pairs that share a band, at a given
// Jaccard similarity, follows the analytic S-curve 1 - (1 - J^r)^b.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "cleanmix/contam/dedup.hpp"
#include "cleanmix/core/hash.hpp"
#include "cleanmix/kernels/signals.hpp"

using namespace cleanmix;

namespace {

/// Candidate rate over `pairs` document pairs whose word sets have Jaccard exactly j (shingle 1,
/// so shingles are the words themselves).
double candidateRate(double j, int pairs, int bands, int rows, std::uint64_t seed) {
  auto s = makeSignalScorer(CLEANMIX_TEST_BACKEND);
  s->setUnigram(std::vector<std::uint64_t>(1 << 8, 1));
  s->setMinHash({bands, rows, 1, seed});
  BatchInput in;
  const int size = 100;  // |A| = |B| = 100, |A ∩ B| = k, J = k / (200 - k)
  const int k = static_cast<int>(std::lround(200 * j / (1 + j)));
  std::uint64_t next = seed * 1000003;
  for (int p = 0; p < pairs; ++p) {
    std::vector<std::uint64_t> a, b;
    for (int i = 0; i < size; ++i) a.push_back(mix64(++next));
    b.assign(a.begin(), a.begin() + k);
    for (int i = k; i < size; ++i) b.push_back(mix64(++next));
    const std::vector<std::uint64_t> none;
    const std::vector<std::uint32_t> none32;
    in.append(none, none32, none32, none, false, a);
    in.append(none, none32, none32, none, false, b);
  }
  BatchOutput out;
  s->score(in, out);
  int hits = 0;
  for (int p = 0; p < pairs; ++p) {
    bool hit = false;
    for (int band = 0; band < bands; ++band)
      hit |= out.bandKeys[(2 * p) * bands + band] == out.bandKeys[(2 * p + 1) * bands + band];
    hits += hit;
  }
  return double(hits) / pairs;
}

}  // namespace

TEST(MinHash, CandidateRateFollowsTheSCurve) {
  const int pairs = 2000, bands = 14, rows = 8;
  std::printf("| Jaccard | analytic | observed |\n|---|---|---|\n");
  for (double j : {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}) {
    const int k = static_cast<int>(std::lround(200 * j / (1 + j)));
    const double jExact = k / (200.0 - k);
    const double want = lshCandidateProbability(jExact, bands, rows);
    const double got = candidateRate(j, pairs, bands, rows, 7);
    const double se = std::sqrt(std::max(want * (1 - want), 0.01) / pairs);
    std::printf("| %.3f | %.3f | %.3f |\n", jExact, want, got);
    EXPECT_NEAR(got, want, 4 * se + 0.01) << "J = " << jExact;
  }
}

TEST(MinHash, IdenticalDocumentsShareEveryBandAndShortOnesNone) {
  auto s = makeSignalScorer(CLEANMIX_TEST_BACKEND);
  s->setUnigram(std::vector<std::uint64_t>(1 << 8, 1));
  s->setMinHash({14, 8, 5, 1});
  BatchInput in;
  const std::vector<std::uint64_t> w{1, 2, 3, 4, 5, 6, 7}, shortW{1, 2, 3}, none;
  const std::vector<std::uint32_t> none32;
  in.append(none, none32, none32, none, false, w);
  in.append(none, none32, none32, none, false, w);
  in.append(none, none32, none32, none, false, shortW);
  BatchOutput out;
  s->score(in, out);
  for (int b = 0; b < 14; ++b) {
    EXPECT_EQ(out.bandKeys[b], out.bandKeys[14 + b]);
    EXPECT_NE(out.bandKeys[b], 0u);
    EXPECT_EQ(out.bandKeys[28 + b], 0u);  // fewer words than a shingle: no keys
  }
}
