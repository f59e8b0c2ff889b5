#include "cleanmix/simulate/simulate.hpp"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <span>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/io/h5.hpp"
#include "cleanmix/simulate/collapse.hpp"

namespace cleanmix {

const std::vector<std::string>& simulateArms() {
  static const std::vector<std::string> arms{"replace", "accumulate", "accumulate_sample",
                                             "anchor"};
  return arms;
}

namespace {

using Tokens = std::vector<std::uint32_t>;

// Stream ids of the counter-based generator (sim::CounterRng). Arms add their id.
constexpr std::uint64_t kStreamReal = 1, kStreamHeldOut = 2, kStreamSynthetic = 16,
                        kStreamSelect = 64;

/// One corpus (the real one, or one generation's samples): D documents, this rank owning the
/// block [lo, hi), and the global unigram counts.
struct Corpus {
  std::uint64_t lo = 0, hi = 0;
  std::vector<Tokens> owned;
  std::vector<std::uint64_t> counts;
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

class Engine {
 public:
  Engine(const Communicator& comm, const SimulateParams& p, std::uint64_t seedKey)
      : _comm(comm), _p(p), _seed(seedKey), _docs(p.tokensPerGeneration / p.docTokens) {}

  /// D documents of docTokens draws each from `model`, on the stream (seed, stream, gen, doc).
  Corpus sample(const sim::Categorical& model, std::uint64_t stream, std::uint64_t gen) const {
    Corpus c;
    const auto r = static_cast<std::uint64_t>(_comm.rank());
    const auto n = static_cast<std::uint64_t>(_comm.size());
    c.lo = _docs * r / n;
    c.hi = _docs * (r + 1) / n;
    c.counts.assign(_p.vocab, 0);
    c.owned.resize(c.hi - c.lo);
    for (std::uint64_t d = c.lo; d < c.hi; ++d) {
      sim::CounterRng rng(_seed, stream, gen, d);
      Tokens& t = c.owned[d - c.lo];
      t.resize(_p.docTokens);
      for (auto& x : t) ++c.counts[x = model.draw(rng)];
    }
    _comm.allreduceSum(std::span<std::uint64_t>(c.counts));
    return c;
  }

  /// Global unigram counts of a mix.
  std::vector<std::uint64_t> counts(const Mix& mix, const std::vector<Corpus>& corpora) const {
    std::vector<std::uint64_t> total(_p.vocab, 0), local(_p.vocab, 0);
    bool anySubset = false;
    for (const Part& part : mix) {
      const Corpus& c = corpora[part.corpus];
      if (part.all) {
        for (std::size_t i = 0; i < total.size(); ++i) total[i] += c.counts[i];
        continue;
      }
      anySubset = true;
      forOwned(part, c, [&](const Tokens& t) {
        for (auto x : t) ++local[x];
      });
    }
    if (anySubset) {
      _comm.allreduceSum(std::span<std::uint64_t>(local));
      for (std::size_t i = 0; i < total.size(); ++i) total[i] += local[i];
    }
    return total;
  }

  /// This rank's share (by key hash) of the mix's distinct bigram types, sorted.
  std::vector<std::uint64_t> bigramShare(const Mix& mix, const std::vector<Corpus>& corpora) const {
    std::vector<std::uint64_t> keys;
    for (const Part& part : mix)
      forOwned(part, corpora[part.corpus], [&](const Tokens& t) {
        for (std::size_t i = 1; i < t.size(); ++i)
          keys.push_back(static_cast<std::uint64_t>(t[i - 1]) * _p.vocab + t[i]);
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

  std::uint64_t docs() const { return _docs; }
  std::uint64_t seed() const { return _seed; }

 private:
  template <class F>
  static void forOwned(const Part& part, const Corpus& c, F&& f) {
    if (part.all) {
      for (const Tokens& t : c.owned) f(t);
      return;
    }
    auto it = std::lower_bound(part.docs.begin(), part.docs.end(), c.lo);
    for (; it != part.docs.end() && *it < c.hi; ++it) f(c.owned[*it - c.lo]);
  }

  const Communicator& _comm;
  const SimulateParams& _p;
  std::uint64_t _seed;
  std::uint64_t _docs;
};

std::uint32_t armId(const std::string& name) {
  const auto& arms = simulateArms();
  const auto it = std::find(arms.begin(), arms.end(), name);
  if (it == arms.end())
    configFail("simulate",
               "unknown arm '{}' (known: replace, accumulate, accumulate_sample, "
               "anchor; the cleanmix arm is not built yet)",
               name);
  return static_cast<std::uint32_t>(it - arms.begin());
}

/// The training mix of generation g + 1, given corpora 0 (real) .. g + 1 (the newest samples).
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

void validate(const SimulateParams& p) {
  if (p.model != "unigram")
    configFail("simulate", "simulate.model = '{}': only 'unigram' is built (trigram is not yet)",
               p.model);
  if (p.arms.empty()) configFail("simulate", "simulate.arms is empty");
  for (const auto& a : p.arms) armId(a);
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

}  // namespace

SimulateResult runSimulate(const Communicator& comm, const SimulateParams& p, std::uint64_t seed) {
  validate(p);
  const double t0 = MPI_Wtime();
  SimulateResult out;
  const auto truth = sim::zipfWeights(p.vocab, p.zipfS);
  const sim::Categorical source(truth);
  for (int s = 0; s < p.seeds; ++s) {
    sim::CounterRng keyRng(seed, 0, 0, static_cast<std::uint64_t>(s));
    const Engine e(comm, p, keyRng.next());
    // Generation 0 and the held-out human text: both drawn from the source, on their own streams.
    std::vector<Corpus> base;
    base.push_back(e.sample(source, kStreamReal, 0));
    const Corpus held = e.sample(source, kStreamHeldOut, 0);
    const Mix mix0{Part{0, true, {}}};
    const auto gen0 = e.counts(mix0, base);
    const auto tail = sim::tailSet(gen0, p.tailRank);
    const auto bigrams0 = e.bigramShare(mix0, base);
    const auto bigramTypes0 = comm.allreduceSum(static_cast<std::uint64_t>(bigrams0.size()));
    for (const auto& arm : p.arms) {
      const std::uint32_t id = armId(arm);
      std::vector<Corpus> corpora;
      corpora.push_back(base.front());
      Mix mix = mix0;
      for (int g = 0; g <= p.generations; ++g) {
        const auto c = e.counts(mix, corpora);
        const auto share = e.bigramShare(mix, corpora);
        std::uint64_t kept = 0;
        {
          auto a = share.begin();
          auto b = bigrams0.begin();
          while (a != share.end() && b != bigrams0.end()) {
            if (*a < *b)
              ++a;
            else if (*b < *a)
              ++b;
            else {
              ++kept;
              ++a;
              ++b;
            }
          }
        }
        kept = comm.allreduceSum(kept);
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
        row.heldOutPerplexity = sim::smoothedPerplexity(c, held.counts, p.smoothing);
        row.tailMass = sim::tailMass(c, tail);
        row.klBits = sim::klBits(gen0, c, p.smoothing);
        row.homozygosity = sim::homozygosity(c);
        out.rows.push_back(row);
        if (g == p.generations) break;
        // The model of generation g is the unigram MLE of its mix; its samples join the pool.
        const sim::Categorical model(c);
        corpora.push_back(
            e.sample(model, kStreamSynthetic + id, static_cast<std::uint64_t>(g) + 1));
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
                     {"tail_rank", p.tailRank}});
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
  std::string err;
  if (comm.isRoot()) {
    try {
      std::filesystem::create_directories(dir);
      writeH5(dir / "simulate.h5", p, seed, r);
      writeCsv(dir / "simulate.csv", r);
    } catch (const std::exception& e) {
      err = e.what();
    }
  }
  comm.bcastBytes(err);
  if (!err.empty()) throw CollectiveError(err);
}

std::string simulateSummary(const SimulateParams& p, const SimulateResult& r) {
  std::vector<int> gens;
  for (int g : {0, 1, 5, 10, 20, 50})
    if (g <= p.generations) gens.push_back(g);
  if (gens.back() != p.generations) gens.push_back(p.generations);
  std::string s = fmt::format("{:<18} {:>4} {:>11} {:>11} {:>9} {:>9}\n", "arm", "gen",
                              "types_kept", "bigrams", "ppl", "tail");
  for (const auto& arm : p.arms) {
    const std::uint32_t id = armId(arm);
    for (int g : gens) {
      double k = 0, b = 0, ppl = 0, t = 0, n = 0;
      for (const auto& row : r.rows)
        if (row.arm == id && row.generation == static_cast<std::uint32_t>(g)) {
          k += row.typesKept;
          b += row.bigramsKept;
          ppl += row.heldOutPerplexity;
          t += row.tailMass;
          n += 1;
        }
      s += fmt::format("{:<18} {:>4} {:>11.3f} {:>11.3f} {:>9.1f} {:>9.4f}\n", arm, g, k / n, b / n,
                       ppl / n, t / n);
    }
  }
  return s;
}

}  // namespace cleanmix
