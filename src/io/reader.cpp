#include "cleanmix/io/reader.hpp"

#include <fmt/ranges.h>

#include "cleanmix/core/error.hpp"
#include "cleanmix/io/jsonl.hpp"
#include "cleanmix/io/line_reader.hpp"

namespace cleanmix {
namespace {

/// JSON Lines, plain, gzip or zstd: one record per line; the text is the source's text_key.
class JsonlReader final : public DocumentReader {
 public:
  JsonlReader(const SourceConfig& source, const ShardInfo& shard, const Piece& piece,
              const IngestParams& p)
      : _lines(shard, piece, p.maxLineBytes),
        _textKey(source.textKey),
        _groupKey(source.groupKey),
        _sourceName(source.name),
        _max(p.maxLineBytes) {}

  bool next(InputRecord& out) override {
    Line line;
    if (!_lines.next(line)) return false;
    out = InputRecord{};
    if (line.tooLong) {
      _reason = fmt::format("line_too_long: {} bytes > max_line_bytes {}", line.length, _max);
      out.reason = _reason;
      return true;
    }
    _parsed = _parser.parse(line.text, _textKey, _groupKey);
    if (!_parsed.ok) {
      out.reason = _parsed.reason;
      return true;
    }
    out.text = _parsed.text;
    out.replaced = _parsed.replaced;
    out.group = _groupKey.empty()  ? std::string_view(_sourceName)
                : _parsed.hasGroup ? _parsed.group
                                   : kMissingGroup;
    return true;
  }
  std::uint64_t rawConsumed() const override { return _lines.rawConsumed(); }

 private:
  LineReader _lines;
  JsonlParser _parser;
  ParsedLine _parsed;
  std::string _textKey, _groupKey, _sourceName, _reason;
  std::uint64_t _max;
};

}  // namespace

const std::vector<std::string>& readerFormats() {
  static const std::vector<std::string> f{"jsonl"};
  return f;
}

std::unique_ptr<DocumentReader> makeReader(const SourceConfig& source, const ShardInfo& shard,
                                           const Piece& piece, const IngestParams& params) {
  if (source.format == "jsonl") return std::make_unique<JsonlReader>(source, shard, piece, params);
  configFail("makeReader", "source '{}': format '{}' is not supported (known: {})", source.name,
             source.format, fmt::join(readerFormats(), ", "));
}

}  // namespace cleanmix
