#pragma once
/// \file
/// \brief The run configuration (TOML, DESIGN.md "Config"). Unknown keys and wrong types are
/// ConfigErrors naming the key and line; relative paths resolve against the config's folder.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cleanmix/core/types.hpp"

namespace cleanmix {

/// \brief One `[[sources]]` entry.
struct SourceConfig {
  std::string name;
  std::vector<std::string> paths;  ///< glob patterns, absolute after loading
  Provenance provenance = Provenance::Unknown;
  Role role = Role::Pool;
  std::string textKey = "text";
};

/// \brief Everything a run needs from its config file, after `--set` overrides.
struct RunConfig {
  std::filesystem::path configPath;
  std::string effectiveToml;  ///< the config after overrides, re-serialised (root attr `config`)
  std::string resultToml;     ///< effectiveToml without the keys that cannot change results

  std::filesystem::path output;
  std::filesystem::path workdir;
  std::uint64_t seed = 42;

  std::string tokenizerKind = "words";
  int vocabBits = 20;

  std::uint64_t maxLineBytes = 16u << 20;  ///< longer lines are quarantined (line_too_long)
  std::uint64_t splitBytes = 64u << 20;    ///< uncompressed shards split into pieces <= this
  std::uint64_t batchBytes = 8u << 20;     ///< text bytes per host->device scoring batch
  int ompThreads = 0;                      ///< tokenizer threads per rank (0: OMP default)
  std::string backend = "default";         ///< Kokkos execution space for the kernels
  double progressSeconds = 5.0;            ///< min seconds between rank-0 progress lines
  bool checkpoint = true;                  ///< per-piece checkpoints in workdir/ckpt
  double checkpointSeconds = 300.0;        ///< count-stage snapshot interval per rank
  bool keepCheckpoints = false;            ///< keep workdir/ckpt after a completed run

  int lmTableBits = 21;                  ///< reference LM bigram/trigram table size (2^bits)
  double lmLambda[3] = {0.1, 0.3, 0.6};  ///< unigram, bigram, trigram interpolation weights

  bool dedupEnabled = true;  ///< [dedup] MinHash LSH + exact duplicates
  int dedupBands = 14, dedupRows = 8, dedupShingle = 5;
  int decontamNgram = 13;    ///< [decontam] GPT-3 rule
  int decontamMinWords = 8;  ///< shorter benchmark items are not used

  bool classifierEnabled = true;              ///< [classifier]
  std::string classifierModel;                ///< model file to load ("" = fit in-run)
  std::string classifierDecision = "linear";  ///< which model sets p_synthetic / inferred
  double classifierTargetFpr = 0.01;
  double classifierL2 = 0.01;
  int classifierNbBits = 14;
  std::uint64_t classifierMaxTrainDocs = 200000;  ///< labelled rows gathered to rank 0 (sampled)

  // [plan]: budget allocation, quality gates and within-source weights.
  bool planEnabled = true;
  double planBudget = 0;  ///< tokens; 0 = one epoch of the eligible pool
  std::string planAllocation = "unimax";
  double planAlpha = 0.3, planMaxEpochs = 4, planSyntheticCap = 0.10, planTailBoost = 1.0;
  int planMaxRepeats = 4;
  double gateMaxDupLineFrac = 0.30, gateMaxTop2gramFrac = 0.20, gateMaxDup5gramFrac = 0.15;
  std::uint64_t gateMinTokens = 50, gateMaxTokens = 100000;

  // [audit]
  bool auditEnabled = true;
  std::uint64_t auditBatchTokens = 65536;
  double auditFloorPercentile = 1.0;
  double auditAbsoluteFloor = 0;  ///< bits; 0 = use the calibrated floor only

  std::uint64_t materializeShardBytes = 64u << 20;  ///< [materialize] target JSONL shard size

  std::vector<SourceConfig> sources;
};

/// \brief Parse and validate a config file, applying `key=value` overrides (TOML values; a bare
/// word is taken as a string). Throws ConfigError naming the key and line on any problem.
RunConfig loadConfig(const std::filesystem::path& file, const std::vector<std::string>& overrides);

/// \brief Same, from text (tests). `baseDir` resolves relative paths.
RunConfig parseConfig(const std::string& text, const std::filesystem::path& baseDir,
                      const std::string& displayName,
                      const std::vector<std::string>& overrides = {});

}  // namespace cleanmix
