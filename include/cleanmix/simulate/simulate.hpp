#pragma once
/// \file
/// \brief `cleanmix simulate` (docs/simulate.md): recursive training on generated text, arm by
/// arm, under the same token budget per generation. Each generation fits a model to that
/// generation's training mix, samples a synthetic corpus from it (counter-based streams keyed by
/// seed, arm, generation and document), and the next mix is built from the pool by the arm's rule.
/// Collective; every rank ends with the same rows, bit-identical at any rank count (documents are
/// block-partitioned, counts are integer sums, metrics are computed from the reduced counts).
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cleanmix/core/source.hpp"
#include "cleanmix/io/reader.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix {

class Communicator;

/// \brief Config section [simulate].
struct SimulateParams {
  /// unigram: a Zipf source (the closed forms); trigram: the config's human text
  std::string model = "unigram";
  /// replace, accumulate, accumulate_sample, anchor, cleanmix (trigram only)
  std::vector<std::string> arms{"replace", "accumulate", "anchor"};
  /// trigram: the sources whose documents are generation 0 ("" = the human pool sources)
  std::vector<std::string> realSources;
  std::uint64_t heldoutEvery = 10;  ///< trigram: every n-th real document is held out
  /// cleanmix arm: keep every generation's run file and mix (about 60 MB a generation on the
  /// sample); false keeps the last generation's only
  bool keepRuns = false;
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

/// \brief The cleanmix arm's plan: run the real pipeline on `sources` with this token budget,
/// writing the run file `out` and materialising the mix into `mixDir` (collective). Supplied by
/// the command line, which owns the driver.
using PipelineRunner =
    std::function<void(const std::vector<SourceConfig>& sources, double budget,
                       const std::filesystem::path& out, const std::filesystem::path& mixDir)>;

/// \brief What a simulation reads besides its own section.
struct SimulateInputs {
  std::vector<SourceConfig> sources;
  IngestParams ingest;
  TokenizerParams tokenizer;
  std::array<double, 3> lambda{0.1, 0.3, 0.6};  ///< [lm] lambdas: unigram, bigram, trigram
  std::filesystem::path workdir;                ///< the cleanmix arm's files
  PipelineRunner pipeline;                      ///< required by the cleanmix arm
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
         tailMass = 0, klBits = 0, homozygosity = 0, syntheticShare = 0;
};

struct SimulateResult {
  std::vector<SimulateRow> rows;  ///< ordered by arm (as configured), seed, generation
  double seconds = 0;
  std::uint64_t vocab = 0, generation0Tokens = 0, generation0Docs = 0, heldOutDocs = 0;
  std::vector<std::string> realSources;  ///< trigram: the sources generation 0 came from
};

/// \brief Run every configured arm for every seed. `seed` is [run] seed; seed j of the run uses
/// the key (seed, j). Throws ConfigError for unknown arms or models.
SimulateResult runSimulate(const Communicator& comm, const SimulateParams& params,
                           std::uint64_t seed, const SimulateInputs& inputs = {});

/// \brief Rank 0 writes `dir`/simulate.h5 (group /simulate, one row per arm, seed and
/// generation; attributes carry the parameters) and `dir`/simulate.csv; the other ranks wait.
void writeSimulate(const Communicator& comm, const SimulateParams& params, std::uint64_t seed,
                   const SimulateResult& result, const std::filesystem::path& dir);

/// \brief The per-arm means over seeds at a few generations, as a text table (rank 0 prints it).
std::string simulateSummary(const SimulateParams& params, const SimulateResult& result);

}  // namespace cleanmix
