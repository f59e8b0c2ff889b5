#include "cleanmix/io/mix_sink.hpp"

#include <xxhash.h>

#include <cstdio>
#include <fstream>

#include <fmt/ranges.h>

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

namespace {

/// JSON Lines shards `<kind>-r<rank>-<index>.jsonl`, rotated at `shardBytes`.
class JsonlMixSink final : public MixSink {
 public:
  JsonlMixSink(fs::path dir, std::string kind, int rank, std::uint64_t shardBytes)
      : _dir(std::move(dir)), _kind(std::move(kind)), _rank(rank), _limit(shardBytes) {}
  void close() override { flushShard(); }
  const std::string& entries() const override { return _entries; }

  void add(const MixRecord& r) override {
    _buf += "{\"text\":";
    appendJsonString(_buf, r.text);
    _buf += ",\"id\":";
    appendJsonString(_buf, r.id);
    _buf += ",\"source\":";
    appendJsonString(_buf, r.source);
    _buf += ",\"provenance\":";
    appendJsonString(_buf, r.provenance);
    _buf +=
        fmt::format(",\"doc_id\":{},\"copy\":{},\"n_tokens\":{}}}\n", r.docId, r.copy, r.tokens);
    ++_docs;
    _tokens += r.tokens;
    if (_buf.size() >= _limit) flushShard();
  }

 private:
  void flushShard() {
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

  fs::path _dir;
  std::string _kind;
  int _rank;
  std::uint64_t _limit;
  std::string _buf, _entries;
  std::uint64_t _docs = 0, _tokens = 0;
  int _index = 0;
};

}  // namespace

const std::vector<std::string>& mixSinkFormats() {
  static const std::vector<std::string> f{"jsonl"};
  return f;
}

std::unique_ptr<MixSink> makeMixSink(const MaterializeParams& params, const fs::path& dir,
                                     const std::string& kind, int rank) {
  if (params.format == "jsonl")
    return std::make_unique<JsonlMixSink>(dir, kind, rank, params.shardBytes);
  configFail("makeMixSink", "materialize.format '{}' is not supported (known: {})", params.format,
             fmt::join(mixSinkFormats(), ", "));
}

}  // namespace cleanmix
