#pragma once
/// \file
/// \brief The run configuration: one member per config section, each the Params struct its
/// module declares (DESIGN.md "Config"). Parsed by cli/config.hpp.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cleanmix/classify/setup.hpp"
#include "cleanmix/contam/decontam.hpp"
#include "cleanmix/core/source.hpp"
#include "cleanmix/io/mix_sink.hpp"
#include "cleanmix/io/reader.hpp"
#include "cleanmix/kernels/ngram_lm.hpp"
#include "cleanmix/simulate/simulate.hpp"
#include "cleanmix/stages/audit.hpp"
#include "cleanmix/stages/dedup.hpp"
#include "cleanmix/stages/plan.hpp"
#include "cleanmix/stages/score.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix {

/// \brief Config section [run]: where the run writes, its seed, progress and checkpoints.
struct RunParams {
  std::filesystem::path output;
  std::filesystem::path workdir;
  std::uint64_t seed = 42;
  double progressSeconds = 5.0;      ///< min seconds between rank-0 progress lines
  bool checkpoint = true;            ///< per-piece checkpoints in workdir/ckpt
  double checkpointSeconds = 300.0;  ///< count-stage snapshot interval per rank
  bool keepCheckpoints = false;      ///< keep workdir/ckpt after a completed run
};

/// \brief Everything a run needs from its config file, after `--set` overrides.
struct RunConfig {
  std::filesystem::path configPath;
  std::string effectiveToml;  ///< the config after overrides, re-serialised (root attr `config`)
  std::string resultToml;     ///< effectiveToml without the keys that cannot change results

  RunParams run;                      ///< [run]
  TokenizerParams tokenizer;          ///< [tokenizer]
  IngestParams ingest;                ///< [ingest]
  ScoreParams score;                  ///< [score]
  LmParams lm;                        ///< [lm] (unigramBits follows tokenizer.vocabBits)
  DedupParams dedup;                  ///< [dedup]
  DecontamParams decontam;            ///< [decontam]
  ClassifierParams classifier;        ///< [classifier]
  PlanParams plan;                    ///< [plan]
  AuditParams audit;                  ///< [audit]
  MaterializeParams materialize;      ///< [materialize]
  SimulateParams simulate;            ///< [simulate] (cleanmix simulate)
  std::vector<SourceConfig> sources;  ///< [[sources]]
};

}  // namespace cleanmix
