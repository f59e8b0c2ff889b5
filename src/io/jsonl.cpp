#include "cleanmix/io/jsonl.hpp"

#include <simdjson.h>
#include <utf8proc.h>

#include "cleanmix/io/line_reader.hpp"

namespace cleanmix {

static_assert(LineReader::kPadding >= simdjson::SIMDJSON_PADDING,
              "LineReader must leave simdjson's padding readable after each line");

struct JsonlParser::Impl {
  simdjson::dom::parser parser;
  std::string repaired;
};

JsonlParser::JsonlParser() : _impl(std::make_unique<Impl>()) {}
JsonlParser::~JsonlParser() = default;

namespace {
bool blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
  return true;
}
}  // namespace

ParsedLine JsonlParser::parse(std::string_view line, std::string_view textKey,
                              std::string_view groupKey) {
  ParsedLine r;
  if (blank(line)) {
    r.reason = "empty_line";
    return r;
  }
  const char* buf = line.data();
  std::size_t len = line.size();
  simdjson::dom::element doc;
  auto err = _impl->parser.parse(buf, len, false).get(doc);
  if (err == simdjson::UTF8_ERROR) {  // repair and retry; the count is reported per line
    r.replaced = repairUtf8(line, _impl->repaired);
    _impl->repaired.reserve(_impl->repaired.size() + simdjson::SIMDJSON_PADDING);
    err = _impl->parser.parse(_impl->repaired.data(), _impl->repaired.size(), false).get(doc);
  }
  if (err) {
    r.reason = std::string("invalid_json: ") + simdjson::error_message(err);
    return r;
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) {
    r.reason = "not_an_object";
    return r;
  }
  simdjson::dom::element val;
  if (obj.at_key(textKey).get(val)) {
    r.reason = "missing_text_key";
    return r;
  }
  if (val.get_string().get(r.text)) {
    r.reason = "text_not_string";
    return r;
  }
  if (!groupKey.empty()) {
    simdjson::dom::element g;
    r.hasGroup = !obj.at_key(groupKey).get(g) && !g.get_string().get(r.group);
  }
  r.ok = true;
  return r;
}

}  // namespace cleanmix
