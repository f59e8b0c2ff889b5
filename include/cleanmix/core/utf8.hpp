#pragma once
/// \file
/// \brief UTF-8 validation and repair (readers and tokenizers share them).
#include <cstdint>
#include <string>
#include <string_view>

namespace cleanmix {

/// \brief Replace every invalid UTF-8 sequence with U+FFFD (one per offending byte, after the
/// longest valid prefix). Returns the number of replacements.
std::uint32_t repairUtf8(std::string_view in, std::string& out);

/// \brief True when `s` is valid UTF-8.
bool isValidUtf8(std::string_view s);

}  // namespace cleanmix
