#pragma once
/// \file
/// \brief The run file's tables (DESIGN.md "Output"): what the write stage writes. The per-stage
/// summaries are declared by their stages; the tables that span stages (/sources, /shards,
/// /vocab) are assembled here from the stage results.
#include <cstdint>
#include <string>
#include <vector>

#include "cleanmix/core/columns.hpp"
#include "cleanmix/stages/audit.hpp"
#include "cleanmix/stages/classify.hpp"
#include "cleanmix/stages/count.hpp"
#include "cleanmix/stages/dedup.hpp"
#include "cleanmix/stages/plan.hpp"
#include "cleanmix/stats/vocab_stats.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix {

/// \brief One row of /sources (global).
struct SourceRow {
  std::string name;
  std::uint8_t provenance = 0, role = 0;
  std::uint64_t nShards = 0, nDocs = 0, nTokens = 0, nBytes = 0, nQuarantined = 0, utf8Replaced = 0;
  std::uint64_t benchNgrams = 0;   ///< benchmark sources: n-grams contributed
  std::uint64_t benchSkipped = 0;  ///< benchmark sources: items shorter than min_words
  std::uint64_t dirtyDocs = 0;     ///< benchmark sources: documents holding its n-grams
  std::uint64_t nNotJudged = 0;  ///< documents the classifier did not judge (DocRows::judged == 0)
  std::vector<std::uint64_t> verdictCounts;   ///< documents per Verdict code
  std::vector<std::uint64_t> inferredCounts;  ///< documents per inferred provenance code
};

/// \brief One row of /shards (global).
struct ShardRow {
  std::string path;
  std::uint32_t source = 0;
  std::uint64_t nLines = 0, nBytes = 0, nDocs = 0, nErrors = 0;
};

/// \brief Everything written to the output file. `docs`, `errors` and the audit's batch block
/// are this rank's; the rest is identical on every rank.
struct RunOutput {
  std::string configText;
  std::uint64_t seed = 0;
  int vocabBits = 20;
  std::string tokenizer;
  TokenizerIdentity tokenizerId;  ///< model tokenizers: written as /vocab attributes
  std::string backend;

  std::vector<SourceRow> sources;
  std::vector<ShardRow> shards;
  std::vector<std::string> vocabClasses;   ///< row names of /vocab/counts and /vocab/stats
  std::vector<std::uint64_t> vocabCounts;  ///< [classes, 2^vocabBits] row-major, global
  std::vector<VocabStats> vocabStats;      ///< per class, then "anchor+pool"

  DocRows docs;
  std::vector<ErrorRow> errors;

  LmSummary lm;
  DedupSummary dedup;
  DecontamSummary decontam;
  ClassifierSummary classifier;
  PlanSummary plan;
  AuditSummary audit;

  std::vector<std::string> phaseNames;
  std::uint64_t peakRssBytes = 0;  ///< this rank's peak resident set size
};

/// \brief What the stages produced, handed to the write stage (moved from).
struct StageResults {
  const Corpus* corpus = nullptr;
  CountResult counts;
  ScoreResult score;
  DedupSummary dedup;
  ClassifierSummary classifier;
  PlanSummary plan;
  AuditSummary audit;
};

/// \brief The run's identity in the file's root attributes.
struct RunInfo {
  std::string configText;  ///< the effective config (root attribute `config`)
  std::uint64_t seed = 0;
  std::string tokenizer;  ///< the tokenizer's name
  TokenizerIdentity tokenizerId;
};

/// \brief Assemble the run file's tables from the stage results: /sources and /shards (counts
/// reduced over ranks), /vocab, /lm, /decontam. Collective.
RunOutput assembleOutput(const Communicator& comm, const RunInfo& info, StageResults&& r);

}  // namespace cleanmix
