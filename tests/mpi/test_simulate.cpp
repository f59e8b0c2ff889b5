// The collapse simulation at np 1, 2, 4: the rows are bit-identical to a one-rank run, and the
// unigram arms reproduce the published shape (issue 10; docs/simulate.md): Zipf s = 1.07 over
// V = 10,000 types, 100,000 tokens per generation, 20 generations, 3 seeds.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/simulate/simulate.hpp"

using namespace cleanmix;

namespace {

/// Mean over seeds of one column at one generation of one arm.
double mean(const SimulateResult& r, const std::string& arm, std::uint32_t gen,
            double SimulateRow::*field) {
  const auto& arms = simulateArms();
  const auto id =
      static_cast<std::uint32_t>(std::find(arms.begin(), arms.end(), arm) - arms.begin());
  double s = 0, n = 0;
  for (const auto& row : r.rows)
    if (row.arm == id && row.generation == gen) {
      s += row.*field;
      n += 1;
    }
  return n > 0 ? s / n : -1;
}

bool sameBits(const SimulateRow& a, const SimulateRow& b) {
  return a.arm == b.arm && a.seed == b.seed && a.generation == b.generation &&
         a.mixTokens == b.mixTokens && a.mixTypes == b.mixTypes &&
         std::memcmp(&a.typesKept, &b.typesKept, sizeof(double) * 9) == 0;
}

}  // namespace

TEST(MpiSimulate, RowsAreBitIdenticalToAOneRankRun) {
  Communicator world(MPI_COMM_WORLD);
  Communicator self(MPI_COMM_SELF);
  SimulateParams p;
  p.arms = {"replace", "accumulate", "accumulate_sample", "anchor"};
  p.vocab = 2000;
  p.tokensPerGeneration = 20000;
  p.docTokens = 500;  // 40 documents: uneven blocks at np 3 and 4 would show any rank dependence
  p.generations = 6;
  p.seeds = 2;
  const auto many = runSimulate(world, p, 42);
  const auto one = runSimulate(self, p, 42);
  ASSERT_EQ(many.rows.size(), one.rows.size());
  ASSERT_EQ(many.rows.size(), 4u * 2 * 7);
  for (std::size_t i = 0; i < one.rows.size(); ++i)
    EXPECT_TRUE(sameBits(many.rows[i], one.rows[i])) << "row " << i;
  // A different seed is a different experiment.
  const auto other = runSimulate(world, p, 43);
  EXPECT_FALSE(sameBits(other.rows[8], many.rows[8]));
}

TEST(MpiSimulate, UnigramArmsReproduceThePublishedShape) {
  Communicator world(MPI_COMM_WORLD);
  SimulateParams p;  // the defaults are the published setup
  p.arms = {"replace", "accumulate", "anchor"};
  ASSERT_EQ(p.vocab, 10000u);
  ASSERT_EQ(p.tokensPerGeneration, 100000u);
  ASSERT_EQ(p.generations, 20);
  ASSERT_EQ(p.seeds, 3);
  const auto r = runSimulate(world, p, 42);
  // replace keeps about 0.84 of generation-0 types after 1, 0.55 after 5, 0.41 after 10, 0.28
  // after 20.
  const auto kept = &SimulateRow::typesKept;
  EXPECT_NEAR(mean(r, "replace", 1, kept), 0.84, 0.02);
  EXPECT_NEAR(mean(r, "replace", 5, kept), 0.55, 0.02);
  EXPECT_NEAR(mean(r, "replace", 10, kept), 0.41, 0.02);
  EXPECT_NEAR(mean(r, "replace", 20, kept), 0.28, 0.02);
  // held-out perplexity rises from about 474 to about 1,080
  const auto ppl = &SimulateRow::heldOutPerplexity;
  EXPECT_NEAR(mean(r, "replace", 0, ppl), 474, 474 * 0.03);
  EXPECT_NEAR(mean(r, "replace", 20, ppl), 1080, 1080 * 0.08);
  // a fixed 10% anchor keeps about 0.62; accumulate keeps all
  EXPECT_NEAR(mean(r, "anchor", 20, kept), 0.62, 0.03);
  for (std::uint32_t g = 0; g <= 20; ++g) EXPECT_EQ(mean(r, "accumulate", g, kept), 1.0);
  // aggregate tail mass stays flat (about 0.18) while types vanish
  for (std::uint32_t g = 0; g <= 20; ++g)
    EXPECT_NEAR(mean(r, "replace", g, &SimulateRow::tailMass), 0.18, 0.015) << "generation " << g;
  EXPECT_LT(mean(r, "replace", 20, kept), 0.5 * mean(r, "anchor", 20, kept));
}

TEST(MpiSimulate, TrigramRowsAreBitIdenticalToAOneRankRun) {
  Communicator world(MPI_COMM_WORLD);
  Communicator self(MPI_COMM_SELF);
  // A small human corpus: 37 documents, so the blocks are uneven at np 2 and 4.
  const std::filesystem::path dir =
      std::filesystem::path(CLEANMIX_TEST_TMP) / ("simulate-np" + std::to_string(world.size()));
  if (world.isRoot()) {
    std::filesystem::create_directories(dir);
    std::ofstream out(dir / "human.jsonl");
    const char* words[] = {"the", "river",  "ran",   "past",  "old",      "mills",
                           "and", "quiet",  "farms", "where", "children", "played",
                           "in",  "summer", "light", "."};
    std::uint64_t x = 7;
    for (int d = 0; d < 37; ++d) {
      out << "{\"text\": \"";
      for (int k = 0; k < 20 + d % 23; ++k) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        out << words[(x >> 33) % 16] << (k % 9 == 8 ? ". " : " ");
      }
      out << "\"}\n";
    }
  }
  world.barrier();
  SimulateInputs in;
  SourceConfig human;
  human.name = "human";
  human.paths = {(dir / "human.jsonl").string()};
  human.provenance = Provenance::HumanUnverified;
  in.sources = {human};
  SimulateParams p;
  p.model = "trigram";
  p.arms = {"replace", "accumulate", "accumulate_sample", "anchor"};
  p.generations = 4;
  p.seeds = 2;
  p.tailRank = 5;
  const auto many = runSimulate(world, p, 42, in);
  const auto one = runSimulate(self, p, 42, in);
  ASSERT_EQ(many.rows.size(), one.rows.size());
  ASSERT_EQ(many.rows.size(), 4u * 2 * 5);
  EXPECT_EQ(many.generation0Docs, 34u);  // every 10th of 37 held out: 3
  EXPECT_EQ(many.heldOutDocs, 3u);
  for (std::size_t i = 0; i < one.rows.size(); ++i)
    EXPECT_TRUE(sameBits(many.rows[i], one.rows[i])) << "row " << i;
  // Replacement loses types that accumulation keeps.
  EXPECT_LT(mean(many, "replace", 4, &SimulateRow::bigramsKept), 1.0);
  EXPECT_EQ(mean(many, "accumulate", 4, &SimulateRow::typesKept), 1.0);
}
