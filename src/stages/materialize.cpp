#include "cleanmix/stages/materialize.hpp"

#include <fmt/format.h>

#include <fstream>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/stages/mix.hpp"

namespace cleanmix {
namespace fs = std::filesystem;

Materializer::Materializer(const Communicator& comm, const MaterializeParams& params, fs::path dir,
                           const Corpus& corpus)
    : _comm(comm), _dir(std::move(dir)), _corpus(corpus) {
  rootThenShare(comm, [&] {
    std::error_code ec;
    fs::create_directories(_dir, ec);
    if (ec) fail("materialize", "cannot create '{}': {}", _dir.string(), ec.message());
  });
  _mix = makeMixSink(params, _dir, "mix", comm.rank());
  _anchor = makeMixSink(params, _dir, "anchor", comm.rank());
}

std::string Materializer::identity(std::uint32_t source, std::uint32_t shard,
                                   std::uint64_t line) const {
  return fmt::format("{}:{}:{}", (*_corpus.sources)[source].name,
                     fs::path(_corpus.table.shards[shard].path).filename().string(), line);
}

void Materializer::addAnchor(const DocRows& docs, std::size_t row, std::uint64_t doc,
                             std::string_view text, std::uint64_t tokens) {
  _anchor->add({text, identity(docs.source[row], docs.shard[row], docs.line[row]),
                (*_corpus.sources)[docs.source[row]].name,
                std::string(toString(static_cast<Provenance>(docs.provenance[row]))), doc, tokens,
                0});
}

void Materializer::finish(const MixPass& mix, std::uint64_t seed, std::uint64_t realisedTokens) {
  for (const auto& c : mix.copies) {
    const DocTextRecord& t = mix.texts[mix.textOf.at(c.doc)];
    _mix->add({t.text, identity(t.source, t.shard, t.line), (*_corpus.sources)[t.source].name,
               std::string(toString(static_cast<Provenance>(t.provenance))), t.doc, t.tokens,
               static_cast<std::uint32_t>(c.copy)});
  }
  _mix->close();
  _anchor->close();
  writeManifest(_comm, _dir, _mix->entries(), _anchor->entries(), seed, realisedTokens);
  if (_comm.isRoot())
    fmt::print(stderr, "[cleanmix] materialized the mix ({} tokens) and the anchor split in {}\n",
               realisedTokens, (_dir / "manifest.json").string());
}

void writeManifest(const Communicator& comm, const fs::path& dir, const std::string& mixEntries,
                   const std::string& anchorEntries, std::uint64_t seed, std::uint64_t mixTokens) {
  const auto mix = comm.gatherBytes(mixEntries);
  const auto anchor = comm.gatherBytes(anchorEntries);
  if (!comm.isRoot()) return;
  auto list = [](const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts)
      for (std::size_t a = 0, b; a < p.size(); a = b + 1) {
        b = p.find('\n', a);
        if (!out.empty()) out += ",\n    ";
        out += p.substr(a, b - a);
      }
    return out;
  };
  const fs::path tmp = dir / "manifest.json.tmp";
  {
    std::ofstream out(tmp);
    out << "{\n  \"format\": \"cleanmix mix v1: JSONL records {text, id, source, provenance, "
           "doc_id, copy, n_tokens}\",\n"
        << "  \"order\": \"mix shards are listed in training order; records within a shard too\",\n"
        << "  \"seed\": " << seed << ",\n  \"n_ranks\": " << comm.size()
        << ",\n  \"mix_tokens\": " << mixTokens << ",\n  \"mix\": [\n    " << list(mix)
        << "\n  ],\n  \"anchor\": [\n    " << list(anchor) << "\n  ]\n}\n";
    if (!out) fail("materialize", "cannot write '{}'", tmp.string());
  }
  fs::rename(tmp, dir / "manifest.json");
}

}  // namespace cleanmix
