#pragma once
/// \file
/// \brief Error types. Every message starts with `cleanmix::<function>:` so a log line names its
/// origin; main() prints `[rank r] fatal: ...` and aborts the job (exit 1), or exits 2 for
/// ConfigError/UsageError.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace cleanmix {

/// \brief Any runtime failure (I/O, MPI, HDF5, corrupt input). Exit status 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// \brief A configuration or command-line problem. Exit status 2. The message names the key/line.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& what) : Error(what) {}
};

/// \brief A failure every rank detected together (e.g. shared by rank 0 through a broadcast):
/// rank 0 reports it and all ranks exit 1 without MPI_Abort.
class CollectiveError : public Error {
 public:
  explicit CollectiveError(const std::string& what) : Error(what) {}
};

/// \brief Throw Error("cleanmix::<where>: <formatted message>").
template <class... Args>
[[noreturn]] void fail(const char* where, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format("cleanmix::{}: {}", where, fmt::format(f, std::forward<Args>(args)...)));
}

/// \brief Throw ConfigError("cleanmix::<where>: <formatted message>").
template <class... Args>
[[noreturn]] void configFail(const char* where, fmt::format_string<Args...> f, Args&&... args) {
  throw ConfigError(
      fmt::format("cleanmix::{}: {}", where, fmt::format(f, std::forward<Args>(args)...)));
}

/// \brief errno as text, for I/O messages.
std::string errnoText(int err);

}  // namespace cleanmix
