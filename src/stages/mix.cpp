#include "cleanmix/stages/mix.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"
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
  MixPass out;
  // Ship in rounds when the planned records would not fit one exchange: docs.nBytes is the
  // normalised size, an estimate of a shipped text; a token bucket is 4 bytes.
  if (needCopies) {
    std::uint64_t planned = 0;
    for (std::size_t i = 0; i < docs.size(); ++i)
      if (docs.repeats[i] > 0)
        planned += (materialize ? docs.nBytes[i] : 0) + (audit ? 4 * docs.nTokens[i] : 0);
    const std::uint64_t total = comm.allreduceSum<std::uint64_t>(planned);
    const std::uint64_t per =
        std::max<std::uint64_t>(1, params.roundBytes) * static_cast<std::uint64_t>(comm.size());
    out.rounds =
        static_cast<std::uint32_t>(std::clamp<std::uint64_t>((total + per - 1) / per, 1, 4096));
  }
  const std::uint64_t slots = static_cast<std::uint64_t>(comm.size()) * out.rounds;
  // Every planned copy, to the rank that owns its key; the (rank, round) slots that need doc i.
  std::vector<std::vector<Copy>> copiesOut(comm.size());
  std::vector<std::vector<std::uint64_t>> copyDest(docs.size());
  if (needCopies)
    for (std::size_t i = 0; i < docs.size(); ++i)
      for (std::uint32_t k = 0; k < docs.repeats[i]; ++k) {
        const std::uint64_t key = copyKey(params.seed, docOffset + i, k);
        const auto slot =
            static_cast<std::uint64_t>((static_cast<unsigned __int128>(key) * slots) >> 64);
        const auto dest = static_cast<int>(slot / out.rounds);
        copiesOut[dest].push_back({key, docOffset + i, docs.nTokens[i], k});
        if (std::find(copyDest[i].begin(), copyDest[i].end(), slot) == copyDest[i].end())
          copyDest[i].push_back(slot);
      }
  if (out.rounds > 1) {
    if (materialize)
      out.textSpill =
          RoundSpill(params.spillDir, "mixtext", comm.rank(), out.rounds, "materialize");
    if (audit)
      out.tokenSpill = RoundSpill(params.spillDir, "mixtokens", comm.rank(), out.rounds, "audit");
  }
  // The anchor stream (anchor documents in doc_id order: local and in read order) is cut into
  // the audit's windows as it is read.
  std::optional<WindowAccumulator> anchorWindows;
  if (audit) {
    std::uint64_t myAnchor = 0;
    for (std::size_t i = 0; i < docs.size(); ++i)
      if (sources[docs.source[i]].role == Role::Anchor) myAnchor += docs.nTokens[i];
    anchorWindows.emplace(params.auditWindow, comm.exscanSum(myAnchor), myAnchor);
  }
  if (audit && out.rounds == 1) out.tokensOut.resize(comm.size());
  std::vector<std::vector<DocTextRecord>> textOut(comm.size());
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
            for (const std::uint64_t slot : copyDest[row]) {
              DocTextRecord rec{doc,
                                ids.size() + extra,
                                docs.line[row],
                                docs.source[row],
                                docs.shard[row],
                                docs.inferred[row],
                                std::string(b.text(i))};
              const auto dest = static_cast<std::uint32_t>(slot / out.rounds);
              if (out.rounds == 1)
                textOut[dest].push_back(std::move(rec));
              else
                out.textSpill.add(static_cast<std::uint32_t>(slot % out.rounds), dest, rec);
            }
          }
          if (!audit) continue;
          std::vector<std::uint32_t> buckets;
          buckets.reserve(ids.size() + extra);
          for (auto id : ids) buckets.push_back(static_cast<std::uint32_t>(id & mask));
          if (extra) buckets.push_back(static_cast<std::uint32_t>(eodBucket));  // as trained
          if (anchor) anchorWindows->add(buckets);
          // One record per (rank, round) slot that needs the document.
          DocTokensRecord rec{doc, std::move(buckets)};
          const auto& slots = copyDest[row];
          if (out.rounds > 1) {
            for (const std::uint64_t slot : slots)
              out.tokenSpill.add(static_cast<std::uint32_t>(slot % out.rounds),
                                 static_cast<std::uint32_t>(slot / out.rounds), rec);
          } else if (!slots.empty()) {  // one round: the slot is the rank
            for (std::size_t k = 0; k + 1 < slots.size(); ++k)
              out.tokensOut[slots[k]].push_back(rec);
            out.tokensOut[slots.back()].push_back(std::move(rec));
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
  out.textSpill.flushAll();
  out.tokenSpill.flushAll();
  if (materialize && out.rounds == 1) {
    out.texts = exchangeRecords(comm, std::move(textOut));
    for (std::size_t k = 0; k < out.texts.size(); ++k) out.textOf[out.texts[k].doc] = k;
  }
  if (audit) out.anchorWindows = anchorWindows->finish(comm);
  return out;
}

}  // namespace cleanmix
