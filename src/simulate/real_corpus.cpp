#include "cleanmix/simulate/real_corpus.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "cleanmix/core/error.hpp"
#include "cleanmix/io/shards.hpp"

namespace cleanmix::sim {

namespace {

/// Byte writer/reader of the shared corpus.
struct Out {
  std::string s;
  void u64(std::uint64_t v) { s.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(const std::string& x) {
    u64(x.size());
    s.append(x);
  }
  void docs(const std::vector<Tokens>& d) {
    u64(d.size());
    for (const auto& t : d) {
      u64(t.size());
      s.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(std::uint32_t));
    }
  }
};
struct In {
  const std::string& s;
  std::size_t p = 0;
  std::uint64_t u64() {
    if (p + 8 > s.size()) fail("sim::RealCorpus::unpack", "truncated");
    std::uint64_t v = 0;
    std::memcpy(&v, s.data() + p, 8);
    p += 8;
    return v;
  }
  std::string str() {
    const auto n = u64();
    if (p + n > s.size()) fail("sim::RealCorpus::unpack", "truncated");
    std::string x = s.substr(p, n);
    p += n;
    return x;
  }
  std::vector<Tokens> docs() {
    std::vector<Tokens> d(u64());
    for (auto& t : d) {
      t.resize(u64());
      const std::size_t bytes = t.size() * sizeof(std::uint32_t);
      if (p + bytes > s.size()) fail("sim::RealCorpus::unpack", "truncated");
      std::memcpy(t.data(), s.data() + p, bytes);
      p += bytes;
    }
    return d;
  }
};

/// The surfaces of a tokenized document: token i is the lens[i] bytes of `norm` whose hash is
/// ids[i] (the words tokenizer's ids are XXH3-64 of the normalised token bytes), after the
/// previous token, past the spaces between them.
void surfaces(const TokenizedDoc& doc, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t p = 0;
  for (std::size_t i = 0; i < doc.ids.size(); ++i) {
    const std::size_t len = doc.lens[i];
    std::size_t q = p;
    while (q + len <= doc.norm.size() && XXH3_64bits(doc.norm.data() + q, len) != doc.ids[i] &&
           q - p < 64)
      ++q;
    if (q + len > doc.norm.size() || XXH3_64bits(doc.norm.data() + q, len) != doc.ids[i])
      fail("sim::loadRealCorpus",
           "cannot locate token {} of a document in its normalised text "
           "(the simulation needs the words tokenizer)",
           i);
    out.emplace_back(doc.norm.data() + q, len);
    p = q + len;
  }
}

}  // namespace

std::string RealCorpus::pack() const {
  Out o;
  o.u64(vocab.size());
  for (const auto& w : vocab) o.str(w);
  o.docs(train);
  o.docs(held);
  o.u64(trainGroups.size());
  for (const auto& g : trainGroups) o.str(g);
  o.u64(trainSource.size());
  for (auto x : trainSource) o.u64(x);
  o.u64(trainText.size());
  for (const auto& t : trainText) o.str(t);
  return std::move(o.s);
}

RealCorpus RealCorpus::unpack(const std::string& bytes) {
  In in{bytes};
  RealCorpus c;
  c.vocab.resize(in.u64());
  for (auto& w : c.vocab) w = in.str();
  c.train = in.docs();
  c.held = in.docs();
  c.trainGroups.resize(in.u64());
  for (auto& g : c.trainGroups) g = in.str();
  c.trainSource.resize(in.u64());
  for (auto& x : c.trainSource) x = static_cast<std::uint32_t>(in.u64());
  c.trainText.resize(in.u64());
  for (auto& t : c.trainText) t = in.str();
  return c;
}

std::vector<std::string> defaultRealSources(const std::vector<SourceConfig>& sources) {
  std::vector<std::string> out;
  for (const auto& s : sources)
    if (s.role == Role::Pool &&
        (s.provenance == Provenance::HumanVerified || s.provenance == Provenance::HumanUnverified))
      out.push_back(s.name);
  return out;
}

RealCorpus loadRealCorpus(const std::vector<SourceConfig>& sources,
                          const std::vector<std::string>& realSources, const IngestParams& ingest,
                          const TokenizerParams& tokenizer, std::uint64_t heldoutEvery) {
  std::set<std::uint32_t> real;
  for (const auto& name : realSources) {
    const auto it = std::find_if(sources.begin(), sources.end(),
                                 [&](const SourceConfig& s) { return s.name == name; });
    if (it == sources.end())
      configFail("simulate", "simulate.real_sources: no source named '{}'", name);
    real.insert(static_cast<std::uint32_t>(it - sources.begin()));
  }
  if (real.empty())
    configFail("simulate",
               "simulate.real_sources is empty and the config has no human pool "
               "source to default to");
  const auto tok = makeTokenizer(tokenizer);
  auto shards = discoverShards(sources);
  const auto pieces = splitIntoPieces(shards, ~std::uint64_t{0});
  // Pass 1: documents as surface lists (all sources give the vocabulary).
  std::vector<std::vector<std::string>> docs;
  std::vector<std::string> groups;
  std::vector<std::uint32_t> source;
  std::vector<std::string> texts;
  std::set<std::string> types;
  TokenizedDoc td;
  std::vector<std::string_view> surf;
  for (const auto& piece : pieces) {
    const ShardInfo& shard = shards[piece.shard];
    const SourceConfig& src = sources[shard.source];
    if (src.role == Role::Benchmark) continue;  // never trained on
    auto reader = makeReader(src, shard, piece, ingest);
    InputRecord rec;
    while (reader->next(rec)) {
      if (!rec.reason.empty()) continue;
      tok->tokenize(rec.text, td, true);
      if (td.ids.empty()) continue;
      surfaces(td, surf);
      for (auto s : surf) types.emplace(s);
      if (!real.count(shard.source)) continue;
      docs.emplace_back(surf.begin(), surf.end());
      groups.emplace_back(rec.group);
      source.push_back(shard.source);
      texts.emplace_back(rec.text);
    }
  }
  RealCorpus c;
  c.vocab = {"", "<unk>"};
  c.vocab.insert(c.vocab.end(), types.begin(), types.end());
  if (c.vocab.size() > kMaxVocab)
    fail("sim::loadRealCorpus", "{} token types exceed the simulation's 2^{} ids", c.vocab.size(),
         kIdBits);
  std::map<std::string_view, std::uint32_t> id;
  for (std::size_t i = 2; i < c.vocab.size(); ++i)
    id.emplace(c.vocab[i], static_cast<std::uint32_t>(i));
  for (std::size_t d = 0; d < docs.size(); ++d) {
    Tokens t;
    t.reserve(docs[d].size());
    for (const auto& s : docs[d]) t.push_back(id.at(s));
    if (heldoutEvery > 0 && d % heldoutEvery == heldoutEvery - 1) {
      c.held.push_back(std::move(t));
    } else {
      c.train.push_back(std::move(t));
      c.trainGroups.push_back(groups[d]);
      c.trainSource.push_back(source[d]);
      c.trainText.push_back(std::move(texts[d]));
    }
  }
  if (c.train.empty()) configFail("simulate", "the real sources hold no documents");
  return c;
}

std::string renderText(const Tokens& doc, const std::vector<std::string>& vocab) {
  std::string s;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    if (i) s += ' ';
    s += vocab.at(doc[i]);
  }
  return s;
}

Encoder::Encoder(const std::vector<std::string>& vocab, const TokenizerParams& params)
    : _tok(makeTokenizer(params)) {
  TokenizedDoc td;
  for (std::size_t i = 2; i < vocab.size(); ++i) {
    _tok->tokenize(vocab[i], td, false);
    if (td.ids.size() != 1)
      fail("sim::Encoder", "the vocabulary entry '{}' does not tokenize to one token", vocab[i]);
    _dense.emplace(td.ids[0], static_cast<std::uint32_t>(i));
  }
}

Tokens Encoder::encode(std::string_view text) const {
  TokenizedDoc td;
  _tok->tokenize(text, td, false);
  Tokens t;
  t.reserve(td.ids.size());
  for (auto x : td.ids) {
    const auto it = _dense.find(x);
    t.push_back(it == _dense.end() ? kUnknown : it->second);
  }
  return t;
}

}  // namespace cleanmix::sim
