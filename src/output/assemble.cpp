#include <sys/resource.h>

#include <cmath>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/output/schema.hpp"

namespace cleanmix {
namespace {

std::uint64_t peakRssBytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

/// /sources: per-source sums of the rows (reduced), of the shards and of the piece tallies.
std::vector<SourceRow> sourceRows(const Communicator& comm, const StageResults& r) {
  const auto& sources = *r.corpus->sources;
  const DocRows& docs = r.score.rows.d;
  const std::size_t ns = sources.size();
  std::vector<std::uint64_t> tokens(ns, 0), replaced(ns, 0), notJudged(ns, 0),
      verdicts(ns * kNumVerdicts, 0), inferred(ns * kNumProvenance, 0),
      benchDirty = r.score.rows.benchDirty;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    tokens[docs.source[i]] += docs.nTokens[i];
    replaced[docs.source[i]] += docs.utf8Replaced[i];
    notJudged[docs.source[i]] += docs.judged[i] == 0;
    ++verdicts[docs.source[i] * kNumVerdicts + docs.verdict[i]];
    ++inferred[docs.source[i] * kNumProvenance + docs.inferred[i]];
  }
  comm.allreduceSum(std::span<std::uint64_t>(tokens));
  comm.allreduceSum(std::span<std::uint64_t>(replaced));
  comm.allreduceSum(std::span<std::uint64_t>(notJudged));
  comm.allreduceSum(std::span<std::uint64_t>(verdicts));
  comm.allreduceSum(std::span<std::uint64_t>(inferred));
  comm.allreduceSum(std::span<std::uint64_t>(benchDirty));
  std::vector<SourceRow> rows(ns);
  for (std::size_t s = 0; s < ns; ++s) {
    SourceRow& row = rows[s];
    row.name = sources[s].name;
    row.provenance = static_cast<std::uint8_t>(sources[s].provenance);
    row.role = static_cast<std::uint8_t>(sources[s].role);
    row.nTokens = tokens[s];
    row.utf8Replaced = replaced[s];
    row.nNotJudged = notJudged[s];
    row.verdictCounts.assign(verdicts.begin() + s * kNumVerdicts,
                             verdicts.begin() + (s + 1) * kNumVerdicts);
    row.inferredCounts.assign(inferred.begin() + s * kNumProvenance,
                              inferred.begin() + (s + 1) * kNumProvenance);
    if (const int bit = r.counts.benchBit[s]; bit >= 0) {
      row.benchNgrams = r.counts.benchNgrams[s];
      row.benchSkipped = r.counts.benchSkipped[s];
      row.dirtyDocs = benchDirty[bit];
    }
  }
  return rows;
}

/// /shards, and the per-source shard, byte, document and quarantine totals.
std::vector<ShardRow> shardRows(const StageResults& r, std::vector<SourceRow>& sources) {
  const ShardTable& table = r.corpus->table;
  std::vector<ShardRow> rows(table.shards.size());
  for (std::size_t i = 0; i < table.shards.size(); ++i) {
    rows[i].path = table.shards[i].path;
    rows[i].source = table.shards[i].source;
    rows[i].nBytes = table.shards[i].bytes;
    auto& src = sources[table.shards[i].source];
    ++src.nShards;
    src.nBytes += table.shards[i].bytes;
  }
  const PieceTally& tally = r.counts.tally;
  for (std::size_t p = 0; p < table.pieces.size(); ++p) {
    auto& sh = rows[table.pieces[p].shard];
    sh.nLines += tally.lines[p];
    sh.nDocs += tally.docs[p];
    sh.nErrors += tally.errors[p];
    auto& src = sources[sh.source];
    src.nDocs += tally.docs[p];
    src.nQuarantined += tally.errors[p];
  }
  return rows;
}

/// /lm: the reference LM's size and weights, and its leave-one-out perplexity on the anchor.
LmSummary lmSummary(const Communicator& comm, const StageResults& r) {
  const LmCounts& lm = r.counts.lm;
  LmSummary s;
  s.unigramBits = lm.params.unigramBits;
  s.tableBits = lm.params.tableBits;
  for (int k = 0; k < 3; ++k) s.lambda[k] = lm.params.lambda[k];
  s.tableBytes = lm.bytes();
  s.anchorDocs = r.counts.anchorDocs;
  for (std::size_t b = 0; b < lm.uniSize(); ++b) s.predictedTokens += lm.table[b];
  const LmCounts& con = r.counts.contrast;
  if (!con.table.empty() && r.counts.contrastDocs > 0 && r.counts.anchorDocs > 0) {
    s.contrastTableBits = con.params.tableBits;
    s.contrastTableBytes = con.bytes();
    s.contrastDocs = r.counts.contrastDocs;
    for (std::size_t b = 0; b < con.uniSize(); ++b) s.contrastTokens += con.table[b];
  }
  const std::int64_t looBitsMicro = comm.allreduceSum(r.score.rows.looBitsMicro);
  const std::uint64_t looTokens = comm.allreduceSum(r.score.rows.looTokens);
  s.anchorLooPerplexity =
      looTokens
          ? std::exp2(static_cast<double>(looBitsMicro) / 1e6 / static_cast<double>(looTokens))
          : 0.0;
  return s;
}

}  // namespace

RunOutput assembleOutput(const Communicator& comm, const RunInfo& info, StageResults&& r) {
  RunOutput run;
  run.sources = sourceRows(comm, r);
  run.shards = shardRows(r, run.sources);
  const int bits = r.counts.lm.params.unigramBits;
  const std::uint64_t nb = std::uint64_t{1} << bits;
  run.vocabClasses = provenanceLabels();
  run.vocabClasses.push_back("anchor+pool");
  run.vocabCounts = std::move(r.counts.counts);
  for (int c = 0; c < kNumProvenance; ++c)
    run.vocabStats.push_back(
        computeVocabStats(std::span<const std::uint64_t>(run.vocabCounts.data() + c * nb, nb)));
  run.vocabStats.push_back(computeVocabStats(r.counts.unigram));
  run.configText = info.configText;
  run.seed = info.seed;
  run.vocabBits = bits;
  run.tokenizer = info.tokenizer;
  run.tokenizerId = info.tokenizerId;
  run.backend = r.score.backend;
  run.lm = lmSummary(comm, r);
  run.errors = std::move(r.counts.errors);
  run.docs = std::move(r.score.rows.d);
  run.dedup = r.dedup;
  run.decontam = r.counts.decontam;
  for (const auto& src : run.sources)
    run.decontam.contaminatedDocs += src.verdictCounts[static_cast<int>(Verdict::Contaminated)];
  run.classifier = std::move(r.classifier);
  run.plan = std::move(r.plan);
  run.audit = std::move(r.audit);
  run.peakRssBytes = peakRssBytes();
  return run;
}

}  // namespace cleanmix
