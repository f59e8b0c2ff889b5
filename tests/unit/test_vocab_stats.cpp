#include <gtest/gtest.h>

#include <cmath>

#include "cleanmix/stats/vocab_stats.hpp"

using cleanmix::computeVocabStats;

TEST(VocabStats, HandComputed) {
  const std::vector<std::uint64_t> c{0, 1, 1, 0, 2, 4};
  const auto s = computeVocabStats(c);
  EXPECT_EQ(s.tokens, 8u);
  EXPECT_EQ(s.types, 4u);
  EXPECT_EQ(s.f1, 2u);
  EXPECT_EQ(s.f2, 1u);
  // H = log2 8 - (1/8)(1*0 + 1*0 + 2*1 + 4*2) = 3 - 10/8
  EXPECT_DOUBLE_EQ(s.entropyBits, 1.75);
  EXPECT_NEAR(s.millerMadowBits, 1.75 + 3.0 / (16.0 * std::log(2.0)), 1e-12);
  EXPECT_DOUBLE_EQ(s.chao1, 4.0 + 4.0 / 2.0);
}

TEST(VocabStats, Chao1BiasCorrectedWithoutDoubletons) {
  const auto s = computeVocabStats(std::vector<std::uint64_t>{1, 1, 1, 3});
  EXPECT_EQ(s.f2, 0u);
  EXPECT_DOUBLE_EQ(s.chao1, 4.0 + 3.0 * 2.0 / 2.0);
}

TEST(VocabStats, UniformIsLog2Types) {
  const auto s = computeVocabStats(std::vector<std::uint64_t>(64, 5));
  EXPECT_NEAR(s.entropyBits, 6.0, 1e-12);
}

TEST(VocabStats, EmptyIsZero) {
  const auto s = computeVocabStats(std::vector<std::uint64_t>(16, 0));
  EXPECT_EQ(s.tokens, 0u);
  EXPECT_EQ(s.types, 0u);
  EXPECT_EQ(s.entropyBits, 0.0);
  EXPECT_EQ(s.chao1, 0.0);
}
