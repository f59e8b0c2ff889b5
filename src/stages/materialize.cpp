#include "cleanmix/stages/materialize.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <map>
#include <unordered_map>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/stages/mix.hpp"

namespace cleanmix {
namespace fs = std::filesystem;

Materializer::Materializer(const Communicator& comm, const MaterializeParams& params, fs::path dir,
                           const Corpus& corpus, const Tokenizer& tokenizer)
    : _comm(comm), _dir(std::move(dir)), _corpus(corpus), _tokenizer(tokenizer) {
  const bool megatron = params.format == "megatron" || params.format == "both";
  rootThenShare(comm, [&] {
    std::error_code ec;
    fs::create_directories(megatron ? _dir / "megatron" : _dir, ec);
    if (ec) fail("materialize", "cannot create '{}': {}", _dir.string(), ec.message());
  });
  const TokenizerIdentity id = tokenizer.identity();
  _sinkTok.vocabSize = id.vocabSize;
  _sinkTok.eod = id.eod;
  _sinkTok.appendEod = id.appendEod;
  _sinkTok.description = fmt::format("{} {} (xxh3_64 {})", id.kind, id.name, id.modelHash);
  if (id.vocabSize > 0)
    _sinkTok.encode = [&tokenizer](std::string_view t, std::vector<std::uint64_t>& ids) {
      tokenizer.encode(t, ids);
    };
  for (const auto& s : *corpus.sources) _names.sources.push_back(s.name);
  for (const auto& sh : corpus.table.shards) _names.inputShards.push_back(sh.path);
  for (int p = 0; p < kNumProvenance; ++p)
    _names.provenance.emplace_back(toString(static_cast<Provenance>(p)));
  _mix = makeMixSinks(params, _dir, "mix", comm.rank(), _sinkTok, _names);
  _anchor = makeMixSinks(params, _dir, "anchor", comm.rank(), _sinkTok, _names);
}

std::string Materializer::identity(std::uint32_t source, std::uint32_t shard,
                                   std::uint64_t line) const {
  return fmt::format("{}:{}:{}", (*_corpus.sources)[source].name,
                     fs::path(_corpus.table.shards[shard].path).filename().string(), line);
}

void Materializer::addAnchor(const DocRows& docs, std::size_t row, std::uint64_t doc,
                             std::string_view text, std::uint64_t tokens) {
  MixRecord r{text,
              identity(docs.source[row], docs.shard[row], docs.line[row]),
              (*_corpus.sources)[docs.source[row]].name,
              std::string(toString(static_cast<Provenance>(docs.provenance[row]))),
              doc,
              tokens,
              0};
  r.sourceIndex = docs.source[row];
  r.inputShard = docs.shard[row];
  r.line = docs.line[row];
  r.declared = docs.provenance[row];
  r.inferred = docs.inferred[row];
  for (auto& sink : _anchor) sink->add(r);
}

void Materializer::finish(MixPass& mix, std::uint64_t seed, std::uint64_t realisedTokens) {
  auto write = [&](const Copy& c, const DocTextRecord& t) {
    const auto& src = (*_corpus.sources)[t.source];
    MixRecord r{t.text,
                identity(t.source, t.shard, t.line),
                src.name,
                std::string(toString(static_cast<Provenance>(t.provenance))),
                t.doc,
                t.tokens,
                static_cast<std::uint32_t>(c.copy)};
    r.sourceIndex = t.source;
    r.inputShard = t.shard;
    r.line = t.line;
    r.declared = static_cast<std::uint8_t>(src.provenance);
    r.inferred = t.provenance;
    for (auto& sink : _mix) sink->add(r);
  };
  if (mix.rounds == 1) {
    for (const auto& c : mix.copies) write(c, mix.texts[mix.textOf.at(c.doc)]);
  } else {
    // One round of the key space at a time: only round k's texts are in memory.
    forEachCopyByRound<DocTextRecord>(
        mix, _comm.rank(), _comm.size(), "materialize",
        [&](std::uint32_t k) {
          return exchangeRecords(_comm, mix.textSpill.take<DocTextRecord>(k, _comm.size()));
        },
        write);
  }
  std::vector<ManifestPart> parts;
  for (auto* sinks : {&_mix, &_anchor})
    for (auto& sink : *sinks) {
      sink->close();
      parts.push_back(
          {std::string(sink->format()), sinks == &_mix ? "mix" : "anchor", sink->entries()});
    }
  writeManifest(_comm, _dir, parts, seed, realisedTokens, _tokenizer.identity());
  if (_comm.isRoot())
    fmt::print(stderr, "[cleanmix] materialized the mix ({} tokens{}) and the anchor split in {}\n",
               realisedTokens,
               mix.rounds > 1 ? fmt::format(", texts exchanged in {} rounds", mix.rounds) : "",
               (_dir / "manifest.json").string());
}

namespace {

/// The value of `"key": ` in one of our own entry lines (a number or a quoted string).
std::string field(std::string_view line, std::string_view key) {
  const std::string k = fmt::format("\"{}\": ", key);
  const auto a = line.find(k);
  if (a == std::string_view::npos) return {};
  auto b = a + k.size();
  if (line[b] == '"') {
    const auto e = line.find('"', b + 1);
    return std::string(line.substr(b + 1, e - b - 1));
  }
  auto e = line.find_first_of(",}", b);
  return std::string(line.substr(b, e - b));
}

}  // namespace

void writeManifest(const Communicator& comm, const fs::path& dir,
                   const std::vector<ManifestPart>& parts, std::uint64_t seed,
                   std::uint64_t mixTokens, const TokenizerIdentity& tok) {
  std::vector<std::vector<std::string>> gathered;
  gathered.reserve(parts.size());
  for (const auto& p : parts) gathered.push_back(comm.gatherBytes(p.entries));
  if (!comm.isRoot()) return;
  auto lines = [](const std::vector<std::string>& ranks) {
    std::vector<std::string> out;
    for (const auto& p : ranks)
      for (std::size_t a = 0, b; a < p.size(); a = b + 1) {
        b = p.find('\n', a);
        out.push_back(p.substr(a, b - a));
      }
    return out;
  };
  auto list = [](const std::vector<std::string>& ls) {
    std::string out;
    for (const auto& l : ls) {
      if (!out.empty()) out += ",\n    ";
      out += l;
    }
    return out;
  };
  std::map<std::string, std::string> jsonl, megatron;
  bool anyMegatron = false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto ls = lines(gathered[i]);
    if (parts[i].format == "jsonl") {
      jsonl[parts[i].kind] = list(ls);
      continue;
    }
    anyMegatron = true;
    megatron[parts[i].kind] = list(ls);
    // The blend: each prefix weighted by its share of the tokens (absolute prefixes).
    std::uint64_t total = 0;
    for (const auto& l : ls) total += std::stoull(field(l, "tokens"));
    std::string w;
    for (const auto& l : ls) {
      const double share =
          total ? static_cast<double>(std::stoull(field(l, "tokens"))) / static_cast<double>(total)
                : 0;
      w += fmt::format("{}{:.17g} {}", w.empty() ? "" : " ", share,
                       fs::absolute(dir / field(l, "prefix")).string());
    }
    const fs::path wp = dir / "megatron" / (parts[i].kind + ".weights");
    std::ofstream out(wp);
    out << w << "\n";
    if (!out) fail("materialize", "cannot write '{}'", wp.string());
  }
  const fs::path tmp = dir / "manifest.json.tmp";
  {
    std::ofstream out(tmp);
    std::string eod = "null";
    if (tok.eod >= 0) eod = std::to_string(tok.eod);
    std::string model;
    appendJsonString(model, tok.model);
    out << "{\n  \"format\": \"cleanmix mix v2: JSONL records {text, id, source, provenance, "
           "doc_id, copy, n_tokens}; Megatron-Core .bin/.idx with a sidecar per shard "
           "(docs/megatron.md)\",\n"
        << "  \"order\": \"mix shards are listed in training order; records within a shard too\",\n"
        << "  \"seed\": " << seed << ",\n  \"n_ranks\": " << comm.size()
        << ",\n  \"mix_tokens\": " << mixTokens << ",\n"
        << "  \"tokenizer\": {\"kind\": \"" << tok.kind << "\", \"name\": \"" << tok.name
        << "\", \"model\": " << model << ", \"model_xxh3_64\": \"" << tok.modelHash
        << "\", \"vocab_size\": " << tok.vocabSize << ", \"eod\": " << eod
        << ", \"append_eod\": " << (tok.appendEod ? "true" : "false") << "},\n"
        << "  \"mix\": [\n    " << jsonl["mix"] << "\n  ],\n  \"anchor\": [\n    "
        << jsonl["anchor"] << "\n  ]";
    if (anyMegatron)
      out << ",\n  \"megatron\": {\n    \"mix\": [\n    " << megatron["mix"]
          << "\n    ],\n    \"anchor\": [\n    " << megatron["anchor"]
          << "\n    ],\n    \"weights\": {\"mix\": \"megatron/mix.weights\", \"anchor\": "
             "\"megatron/anchor.weights\"}\n  }";
    out << "\n}\n";
    if (!out) fail("materialize", "cannot write '{}'", tmp.string());
  }
  fs::rename(tmp, dir / "manifest.json");
}

}  // namespace cleanmix
