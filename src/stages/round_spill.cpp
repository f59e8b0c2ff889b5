#include "cleanmix/stages/round_spill.hpp"

#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "cleanmix/core/error.hpp"

namespace cleanmix {

RoundSpill::RoundSpill(std::filesystem::path dir, const std::string& prefix, int rank,
                       std::uint32_t rounds, std::string stage)
    : _dir(std::move(dir)), _stage(std::move(stage)), _buffers(rounds) {
  std::error_code ec;
  std::filesystem::create_directories(_dir, ec);
  if (ec) fail(_stage.c_str(), "cannot create '{}': {}", _dir.string(), ec.message());
  for (std::uint32_t r = 0; r < rounds; ++r) {
    _files.push_back(_dir / fmt::format("{}-r{:05}-{:05}.bin", prefix, rank, r));
    std::ofstream f(_files.back(), std::ios::binary | std::ios::trunc);
    if (!f) fail(_stage.c_str(), "cannot create '{}'", _files.back().string());
  }
}

RoundSpill::~RoundSpill() {
  std::error_code ec;
  for (const auto& f : _files)
    if (!f.empty()) std::filesystem::remove(f, ec);
  if (!_dir.empty()) std::filesystem::remove(_dir, ec);  // only if empty: the other spills
}

void RoundSpill::flush(std::uint32_t round) {
  std::string& b = _buffers.at(round).bytes();
  if (b.empty()) return;
  std::ofstream f(_files.at(round), std::ios::binary | std::ios::app);
  f.write(b.data(), static_cast<std::streamsize>(b.size()));
  f.flush();
  if (!f) fail(_stage.c_str(), "cannot write '{}' (disk full?)", _files[round].string());
  b.clear();
  b.shrink_to_fit();
}

void RoundSpill::flushAll() {
  for (std::uint32_t r = 0; r < _buffers.size(); ++r) flush(r);
}

std::string RoundSpill::readAndRemove(std::uint32_t round) {
  const std::filesystem::path path = _files.at(round);
  if (path.empty()) fail(_stage.c_str(), "round {} of the spill was already read", round);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(_stage.c_str(), "cannot read '{}'", path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (in.bad()) fail(_stage.c_str(), "cannot read '{}'", path.string());
  std::error_code ec;
  std::filesystem::remove(path, ec);
  _files[round].clear();
  return bytes;
}

}  // namespace cleanmix
