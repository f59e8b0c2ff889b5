#include "cleanmix/simulate/simulate.hpp"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <span>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/comm/records.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/io/h5.hpp"
#include "cleanmix/io/mix_sink.hpp"
#include "cleanmix/io/shards.hpp"
#include "cleanmix/simulate/collapse.hpp"
#include "cleanmix/simulate/real_corpus.hpp"
#include "cleanmix/simulate/trigram.hpp"

namespace cleanmix {

const std::vector<std::string>& simulateArms() {
  static const std::vector<std::string> arms{"replace", "accumulate", "accumulate_sample", "anchor",
                                             "cleanmix"};
  return arms;
}

namespace {

namespace fs = std::filesystem;
using sim::Tokens;

// Stream ids of the counter-based generator (sim::CounterRng). Arms add their id.
constexpr std::uint64_t kStreamReal = 1, kStreamHeldOut = 2, kStreamSynthetic = 16,
                        kStreamSelect = 64;
/// The source name of the model's samples in the cleanmix arm's pipeline runs.
constexpr const char* kSimulatedSource = "simulated";

/// One corpus (the real one, one generation's samples, or a materialised mix): documents
/// block-partitioned over ranks (this rank owns [lo, hi)), their global unigram counts, and how
/// many of its tokens are the model's samples.
struct Corpus {
  std::uint64_t lo = 0, hi = 0;
  std::vector<Tokens> owned;
  std::vector<std::uint8_t> synthetic;  ///< per owned document
  std::vector<std::uint64_t> counts;
  std::uint64_t syntheticTokens = 0;
};

/// A share of a training mix: all documents of a corpus, or the sorted subset `docs`.
struct Part {
  std::size_t corpus = 0;
  bool all = true;
  std::vector<std::uint64_t> docs;
};
using Mix = std::vector<Part>;

std::uint64_t keyHash(std::uint64_t k) {
  k ^= k >> 33;
  k *= 0xFF51AFD7ED558CCDull;
  k ^= k >> 33;
  return k;
}

template <class F>
void forOwned(const Part& part, const Corpus& c, F&& f) {
  if (part.all) {
    for (std::size_t i = 0; i < c.owned.size(); ++i) f(c.owned[i], c.synthetic[i]);
    return;
  }
  auto it = std::lower_bound(part.docs.begin(), part.docs.end(), c.lo);
  for (; it != part.docs.end() && *it < c.hi; ++it) f(c.owned[*it - c.lo], c.synthetic[*it - c.lo]);
}

/// A fitted model: draws documents, and scores the held-out human text.
class Model {
 public:
  virtual ~Model() = default;
  virtual void sample(sim::CounterRng& rng, Tokens& out) const = 0;
  virtual double heldOutPerplexity() const = 0;
};

class UnigramSim final : public Model {
 public:
  UnigramSim(const std::vector<std::uint64_t>& counts, const std::vector<std::uint64_t>& held,
             double k, std::uint64_t docTokens)
      : _cat(counts), _len(docTokens), _ppl(sim::smoothedPerplexity(counts, held, k)) {}
  void sample(sim::CounterRng& rng, Tokens& out) const override {
    out.resize(_len);
    for (auto& x : out) x = _cat.draw(rng);
  }
  double heldOutPerplexity() const override { return _ppl; }

 private:
  sim::Categorical _cat;
  std::uint64_t _len;
  double _ppl;
};

class TrigramSim final : public Model {
 public:
  TrigramSim(const sim::NgramCounts& c, std::array<double, 3> lambda, std::uint64_t maxTokens,
             const std::vector<Tokens>& held)
      : _m(c, lambda, maxTokens), _ppl(_m.perplexity(held)) {}
  void sample(sim::CounterRng& rng, Tokens& out) const override { _m.sample(rng, out); }
  double heldOutPerplexity() const override { return _ppl; }

 private:
  sim::TrigramModel _m;
  double _ppl;
};

class Engine {
 public:
  Engine(const Communicator& comm, std::uint64_t seedKey, std::uint64_t vocab, std::uint64_t docs)
      : _comm(comm), _seed(seedKey), _vocab(vocab), _docs(docs) {}

  /// A corpus of `docs` documents owned in blocks; `make(d, tokens)` fills document d.
  template <class F>
  Corpus build(std::uint64_t docs, bool synthetic, F&& make) const {
    Corpus c;
    const auto r = static_cast<std::uint64_t>(_comm.rank());
    const auto n = static_cast<std::uint64_t>(_comm.size());
    c.lo = docs * r / n;
    c.hi = docs * (r + 1) / n;
    c.counts.assign(_vocab, 0);
    c.owned.resize(c.hi - c.lo);
    c.synthetic.assign(c.hi - c.lo, synthetic ? 1 : 0);
    std::uint64_t synth = 0;
    for (std::uint64_t d = c.lo; d < c.hi; ++d) {
      Tokens& t = c.owned[d - c.lo];
      make(d, t, c.synthetic[d - c.lo]);
      for (auto x : t) ++c.counts[x];
      if (c.synthetic[d - c.lo]) synth += t.size();
    }
    _comm.allreduceSum(std::span<std::uint64_t>(c.counts));
    c.syntheticTokens = _comm.allreduceSum(synth);
    return c;
  }

  /// D documents drawn from `model`, on the streams (seed, stream, gen, doc).
  Corpus sample(const Model& model, std::uint64_t stream, std::uint64_t gen) const {
    return build(_docs, true, [&](std::uint64_t d, Tokens& t, std::uint8_t&) {
      sim::CounterRng rng(_seed, stream, gen, d);
      model.sample(rng, t);
    });
  }

  /// Global unigram counts of a mix, and how many of its tokens are samples.
  std::vector<std::uint64_t> counts(const Mix& mix, const std::vector<Corpus>& corpora,
                                    std::uint64_t& synthetic) const {
    std::vector<std::uint64_t> total(_vocab, 0), local(_vocab, 0);
    std::uint64_t localSynth = 0;
    synthetic = 0;
    bool anySubset = false;
    for (const Part& part : mix) {
      const Corpus& c = corpora[part.corpus];
      if (part.all) {
        for (std::size_t i = 0; i < total.size(); ++i) total[i] += c.counts[i];
        synthetic += c.syntheticTokens;
        continue;
      }
      anySubset = true;
      forOwned(part, c, [&](const Tokens& t, std::uint8_t s) {
        for (auto x : t) ++local[x];
        if (s) localSynth += t.size();
      });
    }
    if (anySubset) {
      _comm.allreduceSum(std::span<std::uint64_t>(local));
      for (std::size_t i = 0; i < total.size(); ++i) total[i] += local[i];
      synthetic += _comm.allreduceSum(localSynth);
    }
    return total;
  }

  /// This rank's share (by key hash) of the mix's distinct bigram types, sorted.
  std::vector<std::uint64_t> bigramShare(const Mix& mix, const std::vector<Corpus>& corpora) const {
    std::vector<std::uint64_t> keys;
    for (const Part& part : mix)
      forOwned(part, corpora[part.corpus], [&](const Tokens& t, std::uint8_t) {
        for (std::size_t i = 1; i < t.size(); ++i)
          keys.push_back(static_cast<std::uint64_t>(t[i - 1]) * _vocab + t[i]);
      });
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    const auto n = static_cast<std::uint64_t>(_comm.size());
    std::vector<std::vector<std::uint64_t>> send(n);
    for (auto k : keys) send[keyHash(k) % n].push_back(k);
    auto mine = _comm.alltoallv(send);
    std::sort(mine.begin(), mine.end());
    mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
    return mine;
  }

  /// The mix's n-gram counts, merged over ranks (every rank gets all of them).
  sim::NgramCounts ngrams(const Mix& mix, const std::vector<Corpus>& corpora) const {
    std::vector<const Tokens*> mine;
    for (const Part& part : mix)
      forOwned(part, corpora[part.corpus],
               [&](const Tokens& t, std::uint8_t) { mine.push_back(&t); });
    sim::NgramCounts local(static_cast<std::uint32_t>(_vocab));
    local.addDocuments(mine);
    const auto n = static_cast<std::size_t>(_comm.size());
    sim::NgramCounts all(static_cast<std::uint32_t>(_vocab));
    all.tri =
        sim::mergeRuns(_comm.alltoallv(std::vector<std::vector<sim::KeyCount>>(n, local.tri)));
    all.bi = sim::mergeRuns(_comm.alltoallv(std::vector<std::vector<sim::KeyCount>>(n, local.bi)));
    all.uni = local.uni;
    _comm.allreduceSum(std::span<std::uint64_t>(all.uni));
    return all;
  }

  std::uint64_t docs() const { return _docs; }
  std::uint64_t seed() const { return _seed; }
  const Communicator& comm() const { return _comm; }

 private:
  const Communicator& _comm;
  std::uint64_t _seed;
  std::uint64_t _vocab;
  std::uint64_t _docs;
};

std::uint32_t armId(const std::string& name) {
  const auto& arms = simulateArms();
  const auto it = std::find(arms.begin(), arms.end(), name);
  if (it == arms.end())
    configFail("simulate",
               "unknown arm '{}' (known: replace, accumulate, accumulate_sample, "
               "anchor, cleanmix)",
               name);
  return static_cast<std::uint32_t>(it - arms.begin());
}

/// The training mix of generation g + 1 under a sampling arm, given corpora 0 (real) .. newest.
Mix nextMix(const std::string& arm, std::uint32_t id, const Engine& e, const SimulateParams& p,
            std::uint64_t g, std::size_t newest) {
  const std::uint64_t d = e.docs();
  if (arm == "replace") return {Part{newest, true, {}}};
  if (arm == "accumulate") {  // every token of the pool, weighted to the budget
    Mix m;
    for (std::size_t c = 0; c <= newest; ++c) m.push_back(Part{c, true, {}});
    return m;
  }
  sim::CounterRng rng(e.seed(), kStreamSelect + id, g + 1, 0);
  if (arm == "accumulate_sample") {  // a uniform subsample of the pool's documents
    const auto pick = sim::chooseSubset((newest + 1) * d, d, rng);
    Mix m;
    for (auto x : pick) {
      const std::size_t c = x / d;
      if (m.empty() || m.back().corpus != c) m.push_back(Part{c, false, {}});
      m.back().docs.push_back(x % d);
    }
    return m;
  }
  // anchor: a fresh subsample of real documents at share r, the rest from the newest samples
  const auto real =
      static_cast<std::uint64_t>(std::llround(p.anchorShare * static_cast<double>(d)));
  Mix m{Part{0, false, sim::chooseSubset(d, real, rng)},
        Part{newest, false, sim::chooseSubset(d, d - real, rng)}};
  return m;
}

void validate(const SimulateParams& p, const SimulateInputs& in) {
  if (p.model != "unigram" && p.model != "trigram")
    configFail("simulate", "simulate.model = '{}': use unigram or trigram", p.model);
  if (p.arms.empty()) configFail("simulate", "simulate.arms is empty");
  for (const auto& a : p.arms) {
    armId(a);
    if (a == "cleanmix" && p.model != "trigram")
      configFail("simulate",
                 "the cleanmix arm runs the real pipeline on text: it needs "
                 "simulate.model = \"trigram\"");
    if (a == "cleanmix" && !in.pipeline)
      configFail("simulate", "the cleanmix arm needs a pipeline runner");
  }
  if (p.vocab < 2 || p.vocab > (1ull << 31))
    configFail("simulate", "simulate.vocab = {} is out of range [2, 2^31]", p.vocab);
  if (p.docTokens < 2 || p.tokensPerGeneration % p.docTokens != 0)
    configFail("simulate",
               "simulate.tokens_per_generation ({}) must be a multiple of simulate.doc_tokens "
               "({} >= 2)",
               p.tokensPerGeneration, p.docTokens);
  if (p.generations < 0 || p.seeds < 1)
    configFail("simulate", "need generations >= 0 and seeds >= 1 (got {}, {})", p.generations,
               p.seeds);
  if (!(p.anchorShare >= 0 && p.anchorShare <= 1))
    configFail("simulate", "simulate.anchor_share = {} is outside [0, 1]", p.anchorShare);
  if (!(p.smoothing > 0)) configFail("simulate", "simulate.smoothing must be > 0");
}

/// The cleanmix arm: each generation's mix is what the real pipeline plans and materialises
/// from the human pool plus every sample so far (as `unknown` provenance).
class CleanmixArm {
 public:
  CleanmixArm(const Engine& e, const SimulateInputs& in, const sim::RealCorpus& real, fs::path dir,
              double budget, bool keepRuns)
      : _e(e),
        _in(in),
        _real(real),
        _dir(std::move(dir)),
        _budget(budget),
        _encoder(real.vocab, in.tokenizer),
        _keepRuns(keepRuns) {
    for (auto src : real.trainSource)
      _realFiles.emplace(src, _dir / "real" / (in.sources[src].name + ".jsonl"));
    rootThenShare(e.comm(), [&] { writeReal(); });
  }

  /// Append generation g's samples to the pool (rank 0 writes them in document order).
  void addSamples(const Corpus& c, int g) {
    std::string mine;
    for (const Tokens& t : c.owned) {
      mine += "{\"text\": ";
      appendJsonString(mine, sim::renderText(t, _real.vocab));
      mine += "}\n";
    }
    const auto parts = _e.comm().gatherBytes(mine);
    const fs::path file = _dir / "samples" / fmt::format("gen-{:03d}.jsonl", g);
    rootThenShare(_e.comm(), [&] {
      fs::create_directories(file.parent_path());
      std::ofstream out(file, std::ios::binary);
      for (const auto& p : parts) out << p;
      if (!out) fail("simulate", "cannot write '{}'", file.string());
    });
    _samples.push_back(file);
  }

  /// Run the pipeline for generation g and read its materialised mix back as a corpus.
  Corpus plan(int g) {
    std::vector<SourceConfig> sources;
    for (std::size_t s = 0; s < _in.sources.size(); ++s) {
      SourceConfig src = _in.sources[s];
      if (_realFiles.count(s)) src.paths = {_realFiles.at(s).string()};
      sources.push_back(src);
    }
    if (!_samples.empty()) {
      SourceConfig sim;
      sim.name = kSimulatedSource;
      sim.provenance = Provenance::Unknown;
      sim.role = Role::Pool;
      for (const auto& f : _samples) sim.paths.push_back(f.string());
      sources.push_back(sim);
    }
    const fs::path mixDir = _dir / "mix" / fmt::format("gen-{:03d}", g);
    const fs::path run = _dir / "runs" / fmt::format("gen-{:03d}.h5", g);
    _in.pipeline(sources, _budget, run, mixDir);
    // Rank 0 reads the mix shards (training order, one record per copy) and shares the ids.
    // Without keep_runs, the previous generation's run file and mix go once this one is read
    // (a run file of the sample is about 60 MB).
    const std::string bytes = rootThenShare(_e.comm(), [&] {
      std::string packed = readMix(mixDir);
      if (!_keepRuns && !_lastRun.empty()) {
        fs::remove(_lastRun);
        fs::remove_all(_lastRun.string() + ".work");
        fs::remove_all(_lastMix);
      }
      return packed;
    });
    _lastRun = run;
    _lastMix = mixDir;
    sim::RealCorpus mix = sim::RealCorpus::unpack(bytes);
    return _e.build(mix.train.size(), false, [&](std::uint64_t d, Tokens& t, std::uint8_t& s) {
      t = std::move(mix.train[d]);
      s = mix.trainSource[d] ? 1 : 0;
    });
  }

 private:
  void writeReal() {
    std::map<std::size_t, std::ofstream> out;
    for (std::size_t d = 0; d < _real.train.size(); ++d) {
      const std::size_t s = _real.trainSource[d];
      if (!out.count(s)) {
        fs::create_directories(_realFiles.at(s).parent_path());
        out[s].open(_realFiles.at(s), std::ios::binary);
      }
      std::string line = "{\"text\": ";
      appendJsonString(line, _real.trainText[d]);
      const std::string& key = _in.sources[s].groupKey;
      if (!key.empty()) {
        line += ", ";
        appendJsonString(line, key);
        line += ": ";
        appendJsonString(line, _real.trainGroups[d]);
      }
      line += "}\n";
      out[s] << line;
    }
    for (auto& [s, f] : out)
      if (!f.flush()) fail("simulate", "cannot write '{}'", _realFiles.at(s).string());
  }

  /// The mix as a packed RealCorpus: train = its documents, trainSource = 1 for samples.
  std::string readMix(const fs::path& mixDir) const {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(mixDir)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("mix-", 0) == 0 && name.find(".jsonl") != std::string::npos)
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    SourceConfig src;
    src.name = "mix";
    src.groupKey = "source";
    std::vector<SourceConfig> one{src};
    one[0].paths = {};
    for (const auto& f : files) one[0].paths.push_back(f.string());
    sim::RealCorpus mix;
    if (files.empty()) return mix.pack();
    auto shards = discoverShards(one);
    for (const auto& piece : splitIntoPieces(shards, ~std::uint64_t{0})) {
      auto reader = makeReader(one[0], shards[piece.shard], piece, _in.ingest);
      InputRecord rec;
      while (reader->next(rec)) {
        if (!rec.reason.empty())
          fail("simulate", "the materialised mix has a bad record: {}", rec.reason);
        mix.train.push_back(_encoder.encode(rec.text));
        mix.trainSource.push_back(rec.group == kSimulatedSource ? 1 : 0);
      }
    }
    return mix.pack();
  }

  const Engine& _e;
  const SimulateInputs& _in;
  const sim::RealCorpus& _real;
  fs::path _dir;
  double _budget;
  sim::Encoder _encoder;
  std::map<std::size_t, fs::path> _realFiles;
  std::vector<fs::path> _samples;
  bool _keepRuns = false;
  fs::path _lastRun, _lastMix;
};

}  // namespace

SimulateResult runSimulate(const Communicator& comm, const SimulateParams& p, std::uint64_t seed,
                           const SimulateInputs& in) {
  validate(p, in);
  const double t0 = MPI_Wtime();
  SimulateResult out;
  const bool trigram = p.model == "trigram";
  // The source: a Zipf law (unigram) or the config's human text (trigram).
  std::vector<std::uint64_t> truth;
  sim::RealCorpus real;
  std::uint64_t vocab = p.vocab, docs = p.tokensPerGeneration / p.docTokens, maxTokens = 0;
  if (trigram) {
    const auto names = p.realSources.empty() ? sim::defaultRealSources(in.sources) : p.realSources;
    real = sim::RealCorpus::unpack(rootThenShare(comm, [&] {
      return sim::loadRealCorpus(in.sources, names, in.ingest, in.tokenizer, p.heldoutEvery).pack();
    }));
    out.realSources = names;
    vocab = real.vocab.size();
    docs = real.train.size();
    for (const auto& t : real.train) maxTokens = std::max<std::uint64_t>(maxTokens, t.size());
    maxTokens *= 4;  // a runaway sample ends at four times the longest real document
    out.heldOutDocs = real.held.size();
  } else {
    truth = sim::zipfWeights(p.vocab, p.zipfS);
  }
  out.vocab = vocab;
  out.generation0Docs = docs;
  for (int s = 0; s < p.seeds; ++s) {
    sim::CounterRng keyRng(seed, 0, 0, static_cast<std::uint64_t>(s));
    const Engine e(comm, keyRng.next(), vocab, docs);
    // Generation 0 and the held-out human text.
    std::vector<Corpus> base;
    Corpus held;
    if (trigram) {
      base.push_back(e.build(
          docs, false, [&](std::uint64_t d, Tokens& t, std::uint8_t&) { t = real.train[d]; }));
    } else {
      const UnigramSim sourceModel(truth, truth, 1, p.docTokens);
      base.push_back(e.sample(sourceModel, kStreamReal, 0));
      base.back().synthetic.assign(base.back().owned.size(), 0);
      base.back().syntheticTokens = 0;
      held = e.sample(sourceModel, kStreamHeldOut, 0);
    }
    const Mix mix0{Part{0, true, {}}};
    std::uint64_t unused = 0;
    const auto gen0 = e.counts(mix0, base, unused);
    out.generation0Tokens = 0;
    for (auto x : gen0) out.generation0Tokens += x;
    const auto tail = sim::tailSet(gen0, p.tailRank);
    const auto bigrams0 = e.bigramShare(mix0, base);
    const auto bigramTypes0 = comm.allreduceSum(static_cast<std::uint64_t>(bigrams0.size()));
    auto fit = [&](const Mix& mix, const std::vector<Corpus>& corpora,
                   const std::vector<std::uint64_t>& c) -> std::unique_ptr<Model> {
      if (trigram)
        return std::make_unique<TrigramSim>(e.ngrams(mix, corpora), in.lambda, maxTokens,
                                            real.held);
      return std::make_unique<UnigramSim>(c, held.counts, p.smoothing, p.docTokens);
    };
    for (const auto& arm : p.arms) {
      const std::uint32_t id = armId(arm);
      std::vector<Corpus> corpora;
      corpora.push_back(base.front());
      Mix mix = mix0;
      std::unique_ptr<CleanmixArm> planner;
      if (arm == "cleanmix") {
        planner =
            std::make_unique<CleanmixArm>(e, in, real, in.workdir / fmt::format("seed-{}", s),
                                          static_cast<double>(out.generation0Tokens), p.keepRuns);
        corpora.push_back(planner->plan(0));
        mix = {Part{corpora.size() - 1, true, {}}};
      }
      for (int g = 0; g <= p.generations; ++g) {
        std::uint64_t synthetic = 0;
        const auto c = e.counts(mix, corpora, synthetic);
        const auto share = e.bigramShare(mix, corpora);
        std::uint64_t kept = 0;
        {
          auto a = share.begin();
          auto b = bigrams0.begin();
          while (a != share.end() && b != bigrams0.end()) {
            if (*a < *b) {
              ++a;
            } else if (*b < *a) {
              ++b;
            } else {
              ++kept;
              ++a;
              ++b;
            }
          }
        }
        kept = comm.allreduceSum(kept);
        const auto model = fit(mix, corpora, c);
        SimulateRow row;
        row.arm = id;
        row.seed = static_cast<std::uint32_t>(s);
        row.generation = static_cast<std::uint32_t>(g);
        for (auto x : c) {
          row.mixTokens += x;
          row.mixTypes += x > 0;
        }
        row.typesKept = sim::typesKept(gen0, c);
        row.bigramsKept = bigramTypes0 ? static_cast<double>(kept) / bigramTypes0 : 0.0;
        row.chao1 = sim::chao1(c);
        row.entropyBits = sim::entropyBits(c);
        row.heldOutPerplexity = model->heldOutPerplexity();
        row.tailMass = sim::tailMass(c, tail);
        row.klBits = sim::klBits(gen0, c, p.smoothing);
        row.homozygosity = sim::homozygosity(c);
        row.syntheticShare =
            row.mixTokens ? static_cast<double>(synthetic) / static_cast<double>(row.mixTokens)
                          : 0.0;
        out.rows.push_back(row);
        if (g == p.generations) break;
        // The model of generation g is fitted to its mix; its samples join the pool.
        corpora.push_back(
            e.sample(*model, kStreamSynthetic + id, static_cast<std::uint64_t>(g) + 1));
        if (planner) {
          planner->addSamples(corpora.back(), g + 1);
          corpora.back().owned.clear();  // on disk now; the mix is read back from the plan
          corpora.back().synthetic.clear();
          corpora.push_back(planner->plan(g + 1));
          if (corpora.size() >= 3) corpora[corpora.size() - 3] = Corpus{};  // the last mix
          mix = {Part{corpora.size() - 1, true, {}}};
          continue;
        }
        mix = nextMix(arm, id, e, p, static_cast<std::uint64_t>(g), corpora.size() - 1);
        if (arm == "replace") corpora[corpora.size() - 2] = Corpus{};  // never read again
      }
    }
  }
  out.seconds = comm.allreduceMax(MPI_Wtime() - t0);
  return out;
}

namespace {
struct Column {
  const char* name;
  const char* meaning;
  double SimulateRow::*field;
};
const std::vector<Column>& columns() {
  static const std::vector<Column> c{
      {"types_kept", "share of generation-0 types with count > 0 in this mix",
       &SimulateRow::typesKept},
      {"bigrams_kept", "share of generation-0 bigram types present in this mix",
       &SimulateRow::bigramsKept},
      {"chao1", "Chao1 richness estimate of the mix", &SimulateRow::chao1},
      {"entropy_bits", "unigram entropy of the mix, bits", &SimulateRow::entropyBits},
      {"heldout_ppl", "perplexity of held-out human text under the mix's model (add-k)",
       &SimulateRow::heldOutPerplexity},
      {"tail_mass", "mix mass on types of generation-0 rank >= tail_rank", &SimulateRow::tailMass},
      {"kl_to_gen0", "KL(generation 0 || mix, add-k), bits", &SimulateRow::klBits},
      {"homozygosity", "sum of squared type probabilities of the mix", &SimulateRow::homozygosity},
      {"synthetic_share", "share of the mix's tokens that are model samples",
       &SimulateRow::syntheticShare},
  };
  return c;
}

void writeH5(const std::filesystem::path& file, const SimulateParams& p, std::uint64_t seed,
             const SimulateResult& r) {
  using h5::Id;
  Id f(h5::checkId(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "simulate"),
       H5Fclose);
  Id g(h5::checkId(H5Gcreate2(f, "simulate", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "simulate"),
       H5Gclose);
  auto put = [&](const char* name, auto values, const std::string& meaning) {
    using T = typename decltype(values)::value_type;
    const hsize_t n = values.size();
    Id space(h5::checkId(H5Screate_simple(1, &n, nullptr), name), H5Sclose);
    Id d(h5::checkId(
             H5Dcreate2(g, name, h5::nativeType<T>(), space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             name),
         H5Dclose);
    if (n)
      h5::check(H5Dwrite(d, h5::nativeType<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                name);
    h5::writeAttr(d, "meaning", meaning);
  };
  std::vector<std::uint8_t> arm;
  std::vector<std::uint32_t> seedCol, gen;
  std::vector<std::uint64_t> tokens, types;
  for (const auto& row : r.rows) {
    arm.push_back(static_cast<std::uint8_t>(row.arm));
    seedCol.push_back(row.seed);
    gen.push_back(row.generation);
    tokens.push_back(row.mixTokens);
    types.push_back(row.mixTypes);
  }
  put("arm", arm, "arm id; names in the attribute labels");
  {
    Id d(h5::checkId(H5Dopen2(g, "arm", H5P_DEFAULT), "arm"), H5Dclose);
    h5::writeAttr(d, "labels", simulateArms());
  }
  put("seed", seedCol, "seed index j (the stream key is ([run] seed, j))");
  put("generation", gen, "generation; 0 is the real corpus");
  put("mix_tokens", tokens, "tokens in the generation's training mix");
  put("mix_types", types, "distinct types in the mix");
  for (const auto& c : columns()) {
    std::vector<double> v;
    for (const auto& row : r.rows) v.push_back(row.*(c.field));
    put(c.name, v, c.meaning);
  }
  h5::writeAttrs(g, {{"model", p.model},
                     {"arms", p.arms},
                     {"vocab", p.vocab},
                     {"zipf_s", p.zipfS},
                     {"tokens_per_generation", p.tokensPerGeneration},
                     {"doc_tokens", p.docTokens},
                     {"generations", static_cast<std::uint64_t>(p.generations)},
                     {"seeds", static_cast<std::uint64_t>(p.seeds)},
                     {"seed", seed},
                     {"anchor_share", p.anchorShare},
                     {"smoothing", p.smoothing},
                     {"tail_rank", p.tailRank},
                     {"heldout_every", p.heldoutEvery},
                     {"vocab_used", r.vocab},
                     {"generation0_tokens", r.generation0Tokens},
                     {"generation0_docs", r.generation0Docs},
                     {"heldout_docs", r.heldOutDocs}});
  if (!r.realSources.empty()) h5::writeAttr(g, "real_sources", r.realSources);
  Id t(h5::checkId(H5Gcreate2(f, "timing", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "timing"),
       H5Gclose);
  h5::writeAttr(t, "simulate_seconds", r.seconds);
}

void writeCsv(const std::filesystem::path& file, const SimulateResult& r) {
  std::ofstream out(file);
  out << "arm,seed,generation,mix_tokens,mix_types";
  for (const auto& c : columns()) out << ',' << c.name;
  out << '\n';
  for (const auto& row : r.rows) {
    out << simulateArms()[row.arm] << ',' << row.seed << ',' << row.generation << ','
        << row.mixTokens << ',' << row.mixTypes;
    for (const auto& c : columns()) out << ',' << fmt::format("{:.17g}", row.*(c.field));
    out << '\n';
  }
  if (!out) fail("writeSimulate", "cannot write '{}'", file.string());
}
}  // namespace

void writeSimulate(const Communicator& comm, const SimulateParams& p, std::uint64_t seed,
                   const SimulateResult& r, const std::filesystem::path& dir) {
  rootThenShare(comm, [&] {
    std::filesystem::create_directories(dir);
    writeH5(dir / "simulate.h5", p, seed, r);
    writeCsv(dir / "simulate.csv", r);
  });
}

std::string simulateSummary(const SimulateParams& p, const SimulateResult& r) {
  std::vector<int> gens;
  for (int g : {0, 1, 5, 10, 20, 50})
    if (g <= p.generations) gens.push_back(g);
  if (gens.back() != p.generations) gens.push_back(p.generations);
  std::string s = fmt::format("{:<18} {:>4} {:>11} {:>11} {:>9} {:>9} {:>9}\n", "arm", "gen",
                              "types_kept", "bigrams", "ppl", "tail", "synthetic");
  for (const auto& arm : p.arms) {
    const std::uint32_t id = armId(arm);
    for (int g : gens) {
      double k = 0, b = 0, ppl = 0, t = 0, sy = 0, n = 0;
      for (const auto& row : r.rows)
        if (row.arm == id && row.generation == static_cast<std::uint32_t>(g)) {
          k += row.typesKept;
          b += row.bigramsKept;
          ppl += row.heldOutPerplexity;
          t += row.tailMass;
          sy += row.syntheticShare;
          n += 1;
        }
      s += fmt::format("{:<18} {:>4} {:>11.3f} {:>11.3f} {:>9.1f} {:>9.4f} {:>9.3f}\n", arm, g,
                       k / n, b / n, ppl / n, t / n, sy / n);
    }
  }
  return s;
}

}  // namespace cleanmix
