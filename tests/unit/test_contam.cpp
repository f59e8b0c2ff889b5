// Decontamination (GPT-3 rule) and the pure parts of dedup.
#include <gtest/gtest.h>

#include <cmath>

#include "cleanmix/contam/decontam.hpp"
#include "cleanmix/contam/dedup.hpp"
#include "cleanmix/tokenize/words.hpp"

using namespace cleanmix;

namespace {
std::vector<std::uint64_t> words(std::string_view t) {
  std::string norm;
  normalizeText(t, norm);
  std::vector<std::uint64_t> w;
  wordHashes(norm, w);
  return w;
}

const char* kPassage =
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife.";

BenchmarkIndex indexOf(std::initializer_list<const char*> items, std::uint32_t minWords = 8) {
  std::vector<BenchNgram> e;
  std::uint64_t bit = 1;
  for (const char* t : items) {
    benchmarkNgrams(words(t), 13, minWords, bit, e);
    bit <<= 1;
  }
  return BenchmarkIndex(e);
}
}  // namespace

TEST(Decontam, VerbatimRecasedAndRepunctuatedPassagesAreFound) {
  const auto idx = indexOf({kPassage});
  std::vector<std::uint64_t> scratch;
  std::uint64_t src = 0;
  const std::string host = std::string("Preamble words here. ") + kPassage + " And more after.";
  const std::uint32_t verbatim = idx.match(words(host), src, scratch);
  EXPECT_GT(verbatim, 0u);
  EXPECT_EQ(src, 1u);
  const char* recased =
      "IT IS A TRUTH UNIVERSALLY ACKNOWLEDGED THAT A SINGLE MAN IN POSSESSION OF A GOOD FORTUNE "
      "MUST BE IN WANT OF A WIFE";
  EXPECT_EQ(idx.match(words(recased), src, scratch), verbatim);
  const char* repunct =
      "it is a truth -- universally acknowledged; that a single man (in possession of a good "
      "fortune) must be in want of a wife!!!";
  EXPECT_EQ(idx.match(words(repunct), src, scratch), verbatim);
  // 23 words -> 11 distinct 13-grams, all present once.
  EXPECT_EQ(verbatim, 11u);
}

TEST(Decontam, UnrelatedAndPartialTextIsClean) {
  const auto idx = indexOf({kPassage});
  std::vector<std::uint64_t> scratch;
  std::uint64_t src = 0;
  EXPECT_EQ(
      idx.match(words("A single man in possession of a good fortune went to town."), src, scratch),
      0u);  // 11 shared words: below 13
  EXPECT_EQ(src, 0u);
  EXPECT_EQ(
      idx.match(words("Completely different text about whales and ships at sea."), src, scratch),
      0u);
}

TEST(Decontam, ShortItemsUseTheirWholeTextOrAreSkipped) {
  std::vector<BenchNgram> e;
  EXPECT_TRUE(benchmarkNgrams(words("What is the capital city of old France?"), 13, 8, 2, e));
  EXPECT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].length, 8u);
  EXPECT_FALSE(benchmarkNgrams(words("Paris."), 13, 8, 2, e));  // too short to be used
  const BenchmarkIndex idx(e);
  std::vector<std::uint64_t> scratch;
  std::uint64_t src = 0;
  EXPECT_EQ(idx.match(words("Quiz: what is the capital city of old France? Paris."), src, scratch),
            1u);
  EXPECT_EQ(src, 2u);
}

TEST(Decontam, SourcesAreMergedPerNgram) {
  const auto idx = indexOf({kPassage, kPassage});
  std::vector<std::uint64_t> scratch;
  std::uint64_t src = 0;
  idx.match(words(kPassage), src, scratch);
  EXPECT_EQ(src, 3u);
}

TEST(Dedup, CandidateEdgesAreStarsPerBucket) {
  std::vector<KeyedDoc> items{{7, 5}, {7, 2}, {7, 9}, {3, 4}, {3, 4}, {8, 1}, {3, 6}};
  const auto e = candidateEdges(items);
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> want{{2, 5}, {2, 9}, {4, 6}};
  EXPECT_EQ(e, want);
}

TEST(Dedup, RepresentativeOrderFollowsDesign) {
  EXPECT_LT(provenanceRank(Provenance::HumanVerified), provenanceRank(Provenance::HumanUnverified));
  EXPECT_LT(provenanceRank(Provenance::HumanUnverified), provenanceRank(Provenance::Unknown));
  EXPECT_LT(provenanceRank(Provenance::Unknown), provenanceRank(Provenance::SyntheticSuspected));
  EXPECT_LT(provenanceRank(Provenance::SyntheticSuspected),
            provenanceRank(Provenance::SyntheticKnown));
}

TEST(Dedup, SCurve) {
  EXPECT_NEAR(lshCandidateProbability(1.0, 14, 8), 1.0, 1e-15);
  EXPECT_NEAR(lshCandidateProbability(0.0, 14, 8), 0.0, 1e-15);
  EXPECT_NEAR(lshCandidateProbability(0.8, 14, 8), 1 - std::pow(1 - std::pow(0.8, 8), 14), 1e-15);
}
