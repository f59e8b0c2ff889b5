#include "cleanmix/core/utf8.hpp"

#include <simdjson.h>
#include <utf8proc.h>

namespace cleanmix {

bool isValidUtf8(std::string_view s) {
  return simdjson::validate_utf8(s.data(), s.size());
}

std::uint32_t repairUtf8(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() + 16);
  std::uint32_t replaced = 0;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(in.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(in.size());
  while (left > 0) {
    if (*p < 0x80) {
      out.push_back(static_cast<char>(*p));
      ++p;
      --left;
      continue;
    }
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n < 0 || cp < 0) {
      out.append("\xEF\xBF\xBD");
      ++replaced;
      ++p;
      --left;
    } else {
      out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
      p += n;
      left -= n;
    }
  }
  return replaced;
}

}  // namespace cleanmix
