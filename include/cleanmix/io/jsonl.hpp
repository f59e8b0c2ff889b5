#pragma once
/// \file
/// \brief One JSONL line -> the document text, or a quarantine reason.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cleanmix/core/utf8.hpp"

namespace cleanmix {

/// \brief Result of parsing one line.
struct ParsedLine {
  bool ok = false;
  std::string_view text;       ///< unescaped text, valid until the next parse()
  std::string reason;          ///< quarantine reason when !ok
  std::uint32_t replaced = 0;  ///< invalid UTF-8 sequences replaced with U+FFFD in this line
  bool hasGroup = false;       ///< the group key is present with a string value
  std::string_view group;      ///< its value, valid until the next parse()
};

/// \brief simdjson-backed strict parser. Not thread-safe; one per thread.
class JsonlParser {
 public:
  JsonlParser();
  ~JsonlParser();
  JsonlParser(const JsonlParser&) = delete;
  JsonlParser& operator=(const JsonlParser&) = delete;

  /// \brief Parse `line`, which must be followed by at least 64 readable bytes (LineReader
  /// guarantees this). Reasons: empty_line, invalid_json: <detail>, not_an_object,
  /// missing_text_key, text_not_string. A non-empty `groupKey` also reads that key's string
  /// value (a missing or non-string value is not an error: hasGroup is false).
  ParsedLine parse(std::string_view line, std::string_view textKey, std::string_view groupKey = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> _impl;
};

}  // namespace cleanmix
