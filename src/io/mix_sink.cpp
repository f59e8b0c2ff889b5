#include "cleanmix/io/mix_sink.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include <fmt/ranges.h>

#include "cleanmix/core/error.hpp"
#include "cleanmix/io/h5.hpp"

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
  std::string_view format() const override { return "jsonl"; }

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

/// Megatron-Core indexed dataset shards `megatron/<kind>-r<rank>-<index>.{bin,idx}` (format:
/// docs/megatron.md), rotated when the .bin reaches `shardBytes`, with a sidecar HDF5 per shard
/// mapping every sequence to its document. Tokens stream to the .bin in bounded blocks; per
/// shard only the sequence lengths and sidecar rows are kept until the shard closes.
class MegatronMixSink final : public MixSink {
 public:
  MegatronMixSink(fs::path dir, std::string kind, int rank, std::uint64_t shardBytes,
                  const SinkTokenizer& tok, const SidecarNames& names)
      : _dir(std::move(dir)),
        _kind(std::move(kind)),
        _rank(rank),
        _limit(shardBytes),
        _tok(tok),
        _names(names),
        _wide(megatronDtype(tok.vocabSize) == "int32") {}
  ~MegatronMixSink() override {
    if (_bin) std::fclose(_bin);
    XXH3_freeState(_hash);
  }
  const std::string& entries() const override { return _entries; }
  std::string_view format() const override { return "megatron"; }
  void close() override { closeShard(); }

  void add(const MixRecord& r) override {
    _ids.clear();
    _tok.encode(r.text, _ids);
    if (_tok.appendEod) _ids.push_back(static_cast<std::uint64_t>(_tok.eod));
    if (_ids.size() != r.tokens)
      fail("materialize",
           "document {} ({}): {} tokens now, {} when planned (the tokenizer is not "
           "deterministic?)",
           r.docId, r.id, _ids.size(), r.tokens);
    if (_ids.empty()) {  // Megatron cannot hold an empty sequence; it carries no tokens
      ++_skippedEmpty;
      return;
    }
    if (_ids.size() > 0x7fffffffu)
      fail("materialize", "document {}: {} tokens do not fit Megatron's int32 length", r.docId,
           _ids.size());
    if (!_bin) openShard();
    for (const std::uint64_t id : _ids) {
      if (id >= _tok.vocabSize)
        fail("materialize", "document {}: token id {} is outside the vocabulary of {}", r.docId, id,
             _tok.vocabSize);
      if (_wide) {
        const auto v = static_cast<std::int32_t>(id);
        _block.append(reinterpret_cast<const char*>(&v), 4);
      } else {
        const auto v = static_cast<std::uint16_t>(id);
        _block.append(reinterpret_cast<const char*>(&v), 2);
      }
    }
    if (_block.size() >= (4u << 20)) flushBlock();
    _lengths.push_back(static_cast<std::int32_t>(_ids.size()));
    _docId.push_back(r.docId);
    _copy.push_back(r.copy);
    _source.push_back(static_cast<std::uint16_t>(r.sourceIndex));
    _declared.push_back(r.declared);
    _inferred.push_back(r.inferred);
    _line.push_back(r.line);
    _inputShard.push_back(r.inputShard);
    _tokenOffset.push_back(_shardTokens);
    _shardTokens += _ids.size();
    if (_shardTokens * itemSize() >= _limit) closeShard();
  }

 private:
  std::size_t itemSize() const { return _wide ? 4 : 2; }
  std::string prefix() const { return fmt::format("{}-r{:05}-{:05}", _kind, _rank, _index); }

  void openShard() {
    const fs::path path = _dir / (prefix() + ".bin");
    _bin = std::fopen(path.c_str(), "wb");
    if (!_bin) fail("materialize", "cannot write '{}'", path.string());
    XXH3_64bits_reset(_hash);
  }

  void flushBlock() {
    if (_block.empty()) return;
    if (std::fwrite(_block.data(), 1, _block.size(), _bin) != _block.size())
      fail("materialize", "cannot write '{}'", (_dir / (prefix() + ".bin")).string());
    XXH3_64bits_update(_hash, _block.data(), _block.size());
    _block.clear();
  }

  void closeShard() {
    if (!_bin) return;
    flushBlock();
    const bool ok = std::fflush(_bin) == 0;
    std::fclose(_bin);
    _bin = nullptr;
    const std::string pre = prefix();
    if (!ok) fail("materialize", "cannot write '{}'", (_dir / (pre + ".bin")).string());
    const std::uint64_t binHash = XXH3_64bits_digest(_hash);
    // .idx: MMIDIDX\0\0, u64 version 1, u8 dtype code, u64 sequences, u64 documents + 1, i32
    // lengths, i64 byte pointers, i64 document indices (one sequence per document)
    std::string idx("MMIDIDX\0\0", 9);
    auto put = [&](auto v) { idx.append(reinterpret_cast<const char*>(&v), sizeof v); };
    const std::uint64_t n = _lengths.size();
    put(std::uint64_t{1});
    put(static_cast<std::uint8_t>(_wide ? 4 : 8));
    put(n);
    put(n + 1);
    idx.append(reinterpret_cast<const char*>(_lengths.data()), n * sizeof(std::int32_t));
    std::int64_t ptr = 0;
    for (const std::int32_t len : _lengths) {
      put(ptr);
      ptr += static_cast<std::int64_t>(len) * static_cast<std::int64_t>(itemSize());
    }
    for (std::uint64_t d = 0; d <= n; ++d) put(static_cast<std::int64_t>(d));
    {
      const fs::path path = _dir / (pre + ".idx");
      std::ofstream out(path, std::ios::binary);
      out.write(idx.data(), static_cast<std::streamsize>(idx.size()));
      if (!out) fail("materialize", "cannot write '{}'", path.string());
    }
    writeSidecar(pre);
    _entries += fmt::format(
        "{{\"prefix\": \"megatron/{}\", \"sequences\": {}, \"documents\": {}, \"tokens\": {}, "
        "\"dtype\": \"{}\", \"bin_xxh3_64\": \"{:016x}\", \"idx_xxh3_64\": \"{:016x}\", "
        "\"sidecar\": \"megatron/{}.sidecar.h5\", \"empty_skipped\": {}}}\n",
        pre, n, n, _shardTokens, _wide ? "int32" : "uint16", binHash,
        XXH3_64bits(idx.data(), idx.size()), pre, _skippedEmpty);
    _skippedEmpty = 0;
    ++_index;
    _shardTokens = 0;
    _lengths.clear();
    _docId.clear();
    _copy.clear();
    _source.clear();
    _declared.clear();
    _inferred.clear();
    _line.clear();
    _inputShard.clear();
    _tokenOffset.clear();
  }

  template <class T>
  static void column(hid_t file, const char* name, const std::vector<T>& v) {
    const hsize_t dims[1] = {v.size()};
    h5::Id space(h5::checkId(H5Screate_simple(1, dims, nullptr), "sidecar"), H5Sclose);
    h5::Id d(h5::checkId(H5Dcreate2(file, name, h5::nativeType<T>(), space, H5P_DEFAULT,
                                    H5P_DEFAULT, H5P_DEFAULT),
                         "sidecar"),
             H5Dclose);
    if (!v.empty())
      h5::check(H5Dwrite(d, h5::nativeType<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
                "sidecar");
  }
  static void strings(hid_t file, const char* name, const std::vector<std::string>& v) {
    std::vector<const char*> p;
    p.reserve(v.size());
    for (const auto& s : v) p.push_back(s.c_str());
    const hsize_t dims[1] = {v.size()};
    h5::Id type(h5::checkId(H5Tcopy(H5T_C_S1), "sidecar"), H5Tclose);
    h5::check(H5Tset_size(type, H5T_VARIABLE), "sidecar");
    h5::check(H5Tset_cset(type, H5T_CSET_UTF8), "sidecar");
    h5::Id space(h5::checkId(H5Screate_simple(1, dims, nullptr), "sidecar"), H5Sclose);
    h5::Id d(h5::checkId(H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                         "sidecar"),
             H5Dclose);
    if (!p.empty())
      h5::check(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), "sidecar");
  }

  void writeSidecar(const std::string& pre) {
    const fs::path path = _dir / (pre + ".sidecar.h5");
    h5::Id f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (f.get() < 0) fail("materialize", "cannot create '{}'", path.string());
    column(f, "doc_id", _docId);
    column(f, "copy", _copy);
    column(f, "source", _source);
    column(f, "declared", _declared);
    column(f, "inferred", _inferred);
    column(f, "line", _line);
    column(f, "input_shard", _inputShard);
    std::vector<std::uint32_t> tokens(_lengths.begin(), _lengths.end());
    column(f, "tokens", tokens);
    column(f, "token_offset", _tokenOffset);
    strings(f, "source_names", _names.sources);
    strings(f, "input_shard_names", _names.inputShards);
    strings(f, "provenance_names", _names.provenance);
    h5::writeAttr(f, "kind", _kind);
    h5::writeAttr(f, "prefix", "megatron/" + pre);
    h5::writeAttr(f, "tokenizer", _tok.description);
  }

  fs::path _dir;
  std::string _kind;
  int _rank;
  std::uint64_t _limit;
  const SinkTokenizer& _tok;
  const SidecarNames& _names;
  bool _wide;
  std::FILE* _bin = nullptr;
  XXH3_state_t* _hash = XXH3_createState();
  std::string _block, _entries;
  std::vector<std::uint64_t> _ids;
  std::vector<std::int32_t> _lengths;
  std::vector<std::uint64_t> _docId, _line, _tokenOffset;
  std::vector<std::uint32_t> _copy, _inputShard;
  std::vector<std::uint16_t> _source;
  std::vector<std::uint8_t> _declared, _inferred;
  std::uint64_t _shardTokens = 0, _skippedEmpty = 0;
  int _index = 0;
};

}  // namespace

const std::vector<std::string>& mixSinkFormats() {
  static const std::vector<std::string> f{"jsonl", "megatron", "both"};
  return f;
}

std::string_view megatronDtype(std::uint64_t vocabSize) {
  return vocabSize < 65500 ? "uint16" : "int32";
}

std::vector<std::unique_ptr<MixSink>> makeMixSinks(const MaterializeParams& params,
                                                   const fs::path& dir, const std::string& kind,
                                                   int rank, const SinkTokenizer& tok,
                                                   const SidecarNames& names) {
  const auto& known = mixSinkFormats();
  if (std::find(known.begin(), known.end(), params.format) == known.end())
    configFail("makeMixSink", "materialize.format '{}' is not supported (known: {})", params.format,
               fmt::join(known, ", "));
  std::vector<std::unique_ptr<MixSink>> out;
  if (params.format == "jsonl" || params.format == "both")
    out.push_back(std::make_unique<JsonlMixSink>(dir, kind, rank, params.shardBytes));
  if (params.format == "megatron" || params.format == "both") {
    if (tok.vocabSize == 0 || !tok.encode)
      configFail("makeMixSink",
                 "materialize.format = '{}' writes model token ids: set "
                 "tokenizer.kind to 'tiktoken', 'hf' or 'sentencepiece' (docs/tokenizers.md)",
                 params.format);
    out.push_back(std::make_unique<MegatronMixSink>(dir / "megatron", kind, rank, params.shardBytes,
                                                    tok, names));
  }
  return out;
}

}  // namespace cleanmix
