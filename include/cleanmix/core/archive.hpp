#pragma once
/// \file
/// \brief Boost.Serialization in the two ways cleanmix uses it: binary archives as bytes, only
/// between ranks of one job (identical binaries), and text archives on disk (portable, outlive
/// the job), written under a temporary name and renamed.
#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/archive/text_iarchive.hpp>
#include <boost/archive/text_oarchive.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cleanmix/core/error.hpp"

namespace cleanmix {

/// \brief Objects as bytes for a broadcast or gather within the job (never written to disk).
template <class... T>
std::string packBytes(const T&... objs) {
  std::ostringstream os;
  boost::archive::binary_oarchive ar(os);
  (ar << ... << objs);
  return os.str();
}

/// \brief The inverse of packBytes, in the same order.
template <class... T>
void unpackBytes(const std::string& bytes, T&... objs) {
  std::istringstream is(bytes);
  boost::archive::binary_iarchive ar(is);
  (ar >> ... >> objs);
}

/// \brief Write `obj` as a text archive to `path` atomically (`path.tmp`, then rename). Doubles
/// keep 17 significant digits. Throws Error naming the file when it cannot be written.
template <class T>
void writeTextFile(const std::filesystem::path& path, const T& obj) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) fail("writeTextFile", "cannot write '{}': {}", tmp.string(), std::strerror(errno));
    out.precision(17);
    boost::archive::text_oarchive ar(out);
    ar << obj;
    out.flush();
    if (!out) fail("writeTextFile", "cannot write '{}' (disk full?)", tmp.string());
  }
  std::filesystem::rename(tmp, path);
}

/// \brief Read a text archive; false when the file is missing or not a valid archive of T.
template <class T>
bool readTextFile(const std::filesystem::path& path, T& obj) {
  std::ifstream in(path);
  if (!in) return false;
  try {
    boost::archive::text_iarchive ar(in);
    ar >> obj;
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace cleanmix
