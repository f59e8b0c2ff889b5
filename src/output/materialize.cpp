#include "cleanmix/output/materialize.hpp"

#include <xxhash.h>

#include <cstdio>
#include <fstream>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"

namespace cleanmix {
namespace fs = std::filesystem;

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

ShardWriter::ShardWriter(fs::path dir, std::string kind, int rank, std::uint64_t shardBytes)
    : _dir(std::move(dir)), _kind(std::move(kind)), _rank(rank), _limit(shardBytes) {}

ShardWriter::~ShardWriter() = default;

void ShardWriter::add(const MaterialRecord& r) {
  _buf += "{\"text\":";
  appendJsonString(_buf, r.text);
  _buf += ",\"id\":";
  appendJsonString(_buf, r.id);
  _buf += ",\"source\":";
  appendJsonString(_buf, r.source);
  _buf += ",\"provenance\":";
  appendJsonString(_buf, r.provenance);
  _buf += fmt::format(",\"doc_id\":{},\"copy\":{},\"n_tokens\":{}}}\n", r.docId, r.copy, r.tokens);
  ++_docs;
  _tokens += r.tokens;
  if (_buf.size() >= _limit) flushShard();
}

void ShardWriter::flushShard() {
  if (_docs == 0) return;
  const std::string name = fmt::format("{}-r{:05}-{:05}.jsonl", _kind, _rank, _index++);
  const fs::path path = _dir / name;
  {
    std::ofstream out(path, std::ios::binary);
    out.write(_buf.data(), static_cast<std::streamsize>(_buf.size()));
    if (!out) fail("materialize", "cannot write '{}'", path.string());
  }
  _entries += fmt::format(
      "{{\"path\": \"{}\", \"documents\": {}, \"tokens\": {}, \"bytes\": {}, \"xxh3_64\": "
      "\"{:016x}\"}}\n",
      name, _docs, _tokens, _buf.size(), XXH3_64bits(_buf.data(), _buf.size()));
  _buf.clear();
  _docs = _tokens = 0;
}

void ShardWriter::close() {
  flushShard();
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
