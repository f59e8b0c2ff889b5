// Per-stage micro-benchmarks on real JSONL (one rank, one thread): parse, tokenize (count and
// full mode), zstd at levels 1 and 3, and the signal kernel. Usage:
//   cleanmix_bench_stages [google-benchmark flags] FILE.jsonl [MAX_MB=32]
#include <benchmark/benchmark.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cleanmix/core/kokkos_compat.hpp"
#include "cleanmix/io/jsonl.hpp"
#include "cleanmix/io/line_reader.hpp"
#include "cleanmix/kernels/ngram_lm.hpp"
#include "cleanmix/kernels/signals.hpp"
#include "cleanmix/tokenize/words.hpp"

using namespace cleanmix;

namespace {
std::vector<std::string> gLines;  // raw JSONL lines
std::vector<std::string> gTexts;  // parsed texts
std::uint64_t gLineBytes = 0, gTextBytes = 0;

void load(const std::string& path, std::uint64_t maxBytes) {
  std::ifstream in(path);
  JsonlParser parser;
  for (std::string l; std::getline(in, l) && gLineBytes < maxBytes;) {
    gLineBytes += l.size() + 1;
    gLines.push_back(l);
    std::string padded = l;
    padded.reserve(l.size() + 64);
    auto r = parser.parse(std::string_view(padded.data(), l.size()), "text");
    if (r.ok) {
      gTexts.emplace_back(r.text);
      gTextBytes += r.text.size();
    }
  }
}

void BM_ParseJsonl(benchmark::State& st) {
  JsonlParser parser;
  std::string buf;
  for (auto _ : st)
    for (const auto& l : gLines) {
      buf.assign(l);
      buf.reserve(l.size() + 64);
      benchmark::DoNotOptimize(parser.parse(std::string_view(buf.data(), l.size()), "text"));
    }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * gLineBytes));
}

void BM_TokenizeCountMode(benchmark::State& st) {
  WordsTokenizer tok;
  TokenizedDoc d;
  for (auto _ : st)
    for (const auto& t : gTexts) tok.tokenize(t, d, false);
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * gTextBytes));
}

void BM_TokenizeFullMode(benchmark::State& st) {
  WordsTokenizer tok;
  TokenizedDoc d;
  for (auto _ : st)
    for (const auto& t : gTexts) tok.tokenize(t, d, true);
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * gTextBytes));
}

void BM_NormalizeOnly(benchmark::State& st) {
  std::string out;
  for (auto _ : st)
    for (const auto& t : gTexts) normalizeText(t, out);
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * gTextBytes));
}

/// Arg: the zstd level of compression_ratio (1 today, 3 before 2026-12-07), one reused context.
/// Counter mean_ratio: the mean compression_ratio over the documents at that level.
void BM_Zstd(benchmark::State& st) {
  const int level = static_cast<int>(st.range(0));
  ZSTD_CCtx* c = ZSTD_createCCtx();
  std::string z;
  double sum = 0;
  for (auto _ : st) {
    sum = 0;
    for (const auto& t : gTexts) {
      z.resize(ZSTD_compressBound(t.size()));
      const std::size_t n = ZSTD_compressCCtx(c, z.data(), z.size(), t.data(), t.size(), level);
      sum += static_cast<double>(t.size()) / static_cast<double>(n);
    }
  }
  ZSTD_freeCCtx(c);
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * gTextBytes));
  st.counters["mean_ratio"] = gTexts.empty() ? 0.0 : sum / static_cast<double>(gTexts.size());
}

void BM_WordHashes(benchmark::State& st) {
  WordsTokenizer tok;
  std::vector<TokenizedDoc> docs(gTexts.size());
  for (std::size_t i = 0; i < gTexts.size(); ++i) tok.tokenize(gTexts[i], docs[i], true);
  std::vector<std::uint64_t> w;
  for (auto _ : st)
    for (const auto& d : docs) {
      w.clear();
      wordHashes(d.norm, w);
    }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * gTextBytes));
}

/// Arg 0: signals only; 1: + reference LM (every doc scored against it); 2: + MinHash 14x8.
void BM_SignalKernel(benchmark::State& st) {
  WordsTokenizer tok;
  BatchInput in;
  TokenizedDoc d;
  std::vector<std::uint64_t> unigram(1 << 20, 0);
  LmCounts lm(LmParams{});
  for (const auto& t : gTexts) {
    tok.tokenize(t, d, true);
    d.words.clear();
    wordHashes(d.norm, d.words);
    in.append(d.ids, d.lens, d.sentLens, d.lineHashes, false, d.words);
    for (auto id : d.ids) ++unigram[id & ((1 << 20) - 1)];
    lm.addDocument(d.ids);
  }
  const char* be = std::getenv("CLEANMIX_BENCH_BACKEND");  // default: the first enabled
  auto scorer = makeSignalScorer(be ? be : "default");
  scorer->setUnigram(unigram);
  if (st.range(0) >= 1) scorer->setLm(lm);
  if (st.range(0) >= 2) scorer->setMinHash({14, 8, 5, 42});
  BatchOutput out;
  for (auto _ : st) scorer->score(in, out);
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * gTextBytes));
  st.counters["tokens"] = static_cast<double>(in.numTokens());
}

}  // namespace

BENCHMARK(BM_ParseJsonl)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NormalizeOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TokenizeCountMode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TokenizeFullMode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Zstd)->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WordHashes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SignalKernel)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " [benchmark flags] FILE.jsonl [MAX_MB=32]\n";
    return 2;
  }
  load(argv[1], (argc > 2 ? std::stoull(argv[2]) : 32) << 20);
  std::cerr << "loaded " << gLines.size() << " lines, " << gLineBytes / 1e6 << " MB of JSONL, "
            << gTextBytes / 1e6 << " MB of text\n";
  cleanmix::kx::initialize();
  benchmark::RunSpecifiedBenchmarks();
  Kokkos::finalize();
  return 0;
}
