#include "cleanmix/stages/mix.hpp"

#include <algorithm>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/hash.hpp"
#include "cleanmix/stages/materialize.hpp"

namespace cleanmix {

std::uint64_t copyKey(std::uint64_t seed, std::uint64_t docId, std::uint32_t copy) {
  return mix64(seed * 0x9E3779B97F4A7C15ull ^ mix64(docId * 1024 + copy + 1));
}

MixPass runMixPass(const Communicator& comm, const MixPassParams& params, const Corpus& corpus,
                   const Tokenizer& tokenizer, const DocRows& docs, std::uint64_t docOffset,
                   Materializer* materializer, Progress& progress) {
  const bool audit = params.audit, materialize = materializer != nullptr;
  const bool needCopies = audit || materialize;
  const std::uint64_t nb = std::uint64_t{1} << params.vocabBits, mask = nb - 1;
  const auto& sources = *corpus.sources;
  // Every planned copy, to the rank that owns its key; the ranks that need doc i's data.
  std::vector<std::vector<Copy>> copiesOut(comm.size());
  std::vector<std::vector<int>> copyDest(docs.size());
  if (needCopies)
    for (std::size_t i = 0; i < docs.size(); ++i)
      for (std::uint32_t k = 0; k < docs.repeats[i]; ++k) {
        const std::uint64_t key = copyKey(params.seed, docOffset + i, k);
        const int dest = static_cast<int>(
            (static_cast<unsigned __int128>(key) * static_cast<unsigned>(comm.size())) >> 64);
        copiesOut[dest].push_back({key, docOffset + i, docs.nTokens[i], k});
        if (std::find(copyDest[i].begin(), copyDest[i].end(), dest) == copyDest[i].end())
          copyDest[i].push_back(dest);
      }
  std::vector<std::vector<DocTokensRecord>> tokensOut(comm.size());
  std::vector<std::vector<DocTextRecord>> textOut(comm.size());
  MixPass out;
  out.mixCounts.assign(nb, 0);
  std::vector<TokenizedDoc> tdocs;
  const std::uint64_t extra = tokenizer.extraTokens();  // the appended EOD
  const std::uint64_t eodBucket = static_cast<std::uint64_t>(tokenizer.identity().eod) & mask;
  std::size_t row = 0;
  progress.start("plan", corpus.end - corpus.begin, corpus.myBytes);
  readPieces(
      corpus, params.ingest, params.batchBytes, nullptr, progress,
      [&](const TextBatch& b) {
        const std::size_t n = b.size();
        std::vector<std::uint8_t> want(n);
        bool any = false;
        for (std::size_t i = 0; i < n; ++i) {
          const bool anchor = sources[docs.source[row + i]].role == Role::Anchor;
          want[i] = docs.repeats[row + i] > 0 || (needCopies && anchor);
          any |= want[i] != 0;
        }
        if (tdocs.size() < n) tdocs.resize(n);
        if (any) {
#pragma omp parallel for schedule(dynamic, 8)
          for (std::size_t i = 0; i < n; ++i)
            if (want[i]) tokenizer.tokenize(b.text(i), tdocs[i], false);
        }
        for (std::size_t i = 0; i < n; ++i, ++row) {
          if (!want[i]) continue;
          const auto& ids = tdocs[i].ids;
          for (const std::uint64_t id : ids) out.mixCounts[id & mask] += docs.repeats[row];
          const std::uint64_t doc = docOffset + row;
          const bool anchor = sources[docs.source[row]].role == Role::Anchor;
          if (materialize) {
            if (anchor) materializer->addAnchor(docs, row, doc, b.text(i), ids.size() + extra);
            for (const int dest : copyDest[row])
              textOut[dest].push_back({doc, ids.size() + extra, docs.line[row], docs.source[row],
                                       docs.shard[row], docs.inferred[row],
                                       std::string(b.text(i))});
          }
          if (!audit) continue;
          std::vector<std::uint32_t> buckets;
          buckets.reserve(ids.size() + extra);
          for (auto id : ids) buckets.push_back(static_cast<std::uint32_t>(id & mask));
          if (extra) buckets.push_back(static_cast<std::uint32_t>(eodBucket));  // as trained
          for (const int dest : copyDest[row]) tokensOut[dest].push_back({doc, buckets});
          if (anchor) {
            StreamSegment seg;
            seg.buckets = std::move(buckets);
            out.anchorStream.push_back(std::move(seg));
          }
        }
      },
      [](std::uint32_t, std::uint64_t, const std::string&) {});
  progress.finish();
  comm.allreduceSum(std::span<std::uint64_t>(out.mixCounts));
  if (needCopies) {  // my copies in training (key) order
    out.copies = comm.alltoallv(copiesOut);
    std::sort(out.copies.begin(), out.copies.end(),
              [](const Copy& a, const Copy& b) { return a.key < b.key; });
  }
  if (materialize) {
    out.texts = exchangeRecords(comm, textOut);
    for (std::size_t k = 0; k < out.texts.size(); ++k) out.textOf[out.texts[k].doc] = k;
  }
  if (audit) {
    out.tokens = exchangeRecords(comm, tokensOut);
    for (std::size_t k = 0; k < out.tokens.size(); ++k) out.tokensOf[out.tokens[k].doc] = k;
  }
  return out;
}

}  // namespace cleanmix
