#pragma once
/// \file
/// \brief The rows a run produces (this rank's share), handed from the driver to the writer.
#include <cstdint>
#include <string>
#include <vector>

#include "cleanmix/core/columns.hpp"
#include "cleanmix/stats/vocab_stats.hpp"

namespace cleanmix {

/// \brief A quarantined input line.
struct ErrorRow {
  std::uint32_t shard = 0;
  std::uint64_t line = 0;  ///< 1-based
  std::string reason;
};

/// \brief One row of /sources (global).
struct SourceRow {
  std::string name;
  std::uint8_t provenance = 0, role = 0;
  std::uint64_t nShards = 0, nDocs = 0, nTokens = 0, nBytes = 0, nQuarantined = 0, utf8Replaced = 0;
  std::uint64_t benchNgrams = 0;              ///< benchmark sources: n-grams contributed
  std::uint64_t benchSkipped = 0;             ///< benchmark sources: items shorter than min_words
  std::uint64_t dirtyDocs = 0;                ///< benchmark sources: documents holding its n-grams
  std::vector<std::uint64_t> verdictCounts;   ///< documents per Verdict code
  std::vector<std::uint64_t> inferredCounts;  ///< documents per inferred provenance code
};

/// \brief One row of /shards (global).
struct ShardRow {
  std::string path;
  std::uint32_t source = 0;
  std::uint64_t nLines = 0, nBytes = 0, nDocs = 0, nErrors = 0;
};

/// \brief A block of consecutive audit batches held by this rank.
struct BatchBlock {
  std::uint64_t first = 0;
  std::vector<double> entropy;
  std::vector<std::uint32_t> types;
  std::vector<std::uint64_t> tokens;
  std::vector<std::uint8_t> hold;
};

/// \brief Everything written to the output file. `docs` and `errors` are this rank's;
/// the rest is identical on every rank.
struct RunOutput {
  std::string configText;
  std::uint64_t seed = 0;
  int vocabBits = 20;
  std::string tokenizer;
  std::string backend;

  std::vector<SourceRow> sources;
  std::vector<ShardRow> shards;
  std::vector<std::string> vocabClasses;   ///< row names of /vocab/counts and /vocab/stats
  std::vector<std::uint64_t> vocabCounts;  ///< [classes, 2^vocabBits] row-major, global
  std::vector<VocabStats> vocabStats;      ///< per class, then "anchor+pool"

  DocRows docs;
  std::vector<ErrorRow> errors;

  /// Reference LM summary (/lm attributes).
  struct Lm {
    int unigramBits = 0, tableBits = 0;
    double lambda[3] = {0, 0, 0};
    std::uint64_t tableBytes = 0, anchorDocs = 0, predictedTokens = 0;
    double anchorLooPerplexity = 0;  ///< token-weighted over anchor docs, leave-one-out
  } lm;

  struct Dedup {
    bool enabled = false;
    int bands = 0, rows = 0, shingle = 0;
    std::uint64_t candidatePairs = 0, clusters = 0, duplicates = 0, rounds = 0;
    std::uint64_t alltoallvBytesMax = 0;
  } dedup;
  struct Decontam {
    int ngram = 0, minWords = 0;
    std::uint64_t indexNgrams = 0, contaminatedDocs = 0;
  } decontam;

  struct Classifier {
    bool enabled = false;
    std::string decision, source;  ///< which model decides; "fitted in-run" or the model path
    double threshold = 0, targetFpr = 0;
    double voteThreshold[3] = {0, 0, 0};
    std::vector<double> weights;  ///< linear weights on standardised features
    std::uint64_t trainDocs = 0, holdoutDocs = 0;
    double linear[5] = {0, 0, 0, 0, 0};  ///< held-out precision, recall, F1, AUROC, FPR
    double vote[5] = {0, 0, 0, 0, 0};
    std::uint64_t suspected = 0;  ///< documents inferred synthetic_suspected
  } classifier;

  struct Plan {
    bool enabled = false;
    std::string allocation;
    double budget = 0, planned = 0, shortfall = 0, plannedSyntheticShare = 0;
    double maxEpochs = 0, syntheticCap = 0, alpha = 0;
    std::uint64_t realised = 0, realisedSynthetic = 0, maxRepeats = 0;
    bool syntheticCapBinding = false;
    /// per source: eligible/planned/realised tokens by class (0 human, 1 synthetic), epochs, weight
    std::vector<double> eligible[2], planned_[2], epochs, weight;
    std::vector<std::uint64_t> realisedBy[2];
    /// tail coverage of the mix and of the reference (anchor) unigram
    VocabStats mix, reference;
    std::vector<std::uint64_t> mixCounts, referenceCounts;  ///< bucket histograms (global)
  } plan;

  struct Audit {
    bool enabled = false;
    std::uint64_t batchTokens = 0, anchorWindows = 0, batches = 0, held = 0;
    double floorPercentile = 0, floorBits = 0, absoluteFloor = 0;
    BatchBlock block;  // this rank's batches
  } audit;

  std::vector<std::string> phaseNames;
  std::uint64_t peakRssBytes = 0;  ///< this rank's peak resident set size
};

}  // namespace cleanmix
