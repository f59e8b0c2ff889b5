#pragma once
/// \file
/// \brief `cleanmix simulate` (docs/simulate.md): recursive training on generated text, arm by
/// arm, under the same token budget per generation. Each generation fits a model to that
/// generation's training mix, samples a synthetic corpus from it (counter-based streams keyed by
/// seed, arm, generation and document), and the next mix is built from the pool by the arm's rule.
/// Collective; every rank ends with the same rows, bit-identical at any rank count (documents are
/// block-partitioned, counts are integer sums, metrics are computed from the reduced counts).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cleanmix {

class Communicator;

/// \brief Config section [simulate].
struct SimulateParams {
  std::string model = "unigram";  ///< unigram (the closed forms); trigram is not built yet
  /// replace, accumulate, accumulate_sample, anchor
  std::vector<std::string> arms{"replace", "accumulate", "anchor"};
  std::uint64_t vocab = 10000;  ///< V of the Zipf source
  double zipfS = 1.07;          ///< its exponent
  std::uint64_t tokensPerGeneration = 100000;
  std::uint64_t docTokens = 1000;  ///< tokens per document (the unit of ownership and selection)
  int generations = 20;
  int seeds = 3;
  double anchorShare = 0.10;      ///< the anchor arm's real share r
  double smoothing = 0.01;        ///< add-k of the held-out perplexity and the KL
  std::uint64_t tailRank = 1000;  ///< tail = types of generation-0 rank >= this
};

/// \brief The arms `simulate` knows, in their fixed id order (ids key the random streams, so an
/// arm's results do not depend on which other arms run).
const std::vector<std::string>& simulateArms();

/// \brief One generation of one arm and seed: metrics of that generation's training mix (the
/// model's support) against generation 0.
struct SimulateRow {
  std::uint32_t arm = 0;  ///< index into simulateArms()
  std::uint32_t seed = 0;
  std::uint32_t generation = 0;
  std::uint64_t mixTokens = 0, mixTypes = 0;
  double typesKept = 0, bigramsKept = 0, chao1 = 0, entropyBits = 0, heldOutPerplexity = 0,
         tailMass = 0, klBits = 0, homozygosity = 0;
};

struct SimulateResult {
  std::vector<SimulateRow> rows;  ///< ordered by arm (as configured), seed, generation
  double seconds = 0;
};

/// \brief Run every configured arm for every seed. `seed` is [run] seed; seed j of the run uses
/// the key (seed, j). Throws ConfigError for unknown arms or models.
SimulateResult runSimulate(const Communicator& comm, const SimulateParams& params,
                           std::uint64_t seed);

/// \brief Rank 0 writes `dir`/simulate.h5 (group /simulate, one row per arm, seed and
/// generation; attributes carry the parameters) and `dir`/simulate.csv; the other ranks wait.
void writeSimulate(const Communicator& comm, const SimulateParams& params, std::uint64_t seed,
                   const SimulateResult& result, const std::filesystem::path& dir);

/// \brief The per-arm means over seeds at a few generations, as a text table (rank 0 prints it).
std::string simulateSummary(const SimulateParams& params, const SimulateResult& result);

}  // namespace cleanmix
