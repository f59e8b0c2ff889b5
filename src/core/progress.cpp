#include "cleanmix/core/progress.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace cleanmix {

void Progress::start(const std::string& stage, std::uint64_t piecesTotal,
                     std::uint64_t bytesTotal) {
  _stage = stage;
  _piecesTotal = piecesTotal;
  _bytesTotal = bytesTotal;
  _piecesDone = _bytesDone = 0;
  _t0 = _last = Clock::now();
}

void Progress::update(std::uint64_t piecesDone, std::uint64_t bytesDone) {
  _piecesDone = piecesDone;
  _bytesDone = bytesDone;
  if (!_enabled) return;
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - _last).count() < _minSeconds) return;
  _last = now;
  print(false);
}

void Progress::finish() {
  if (_enabled) print(true);
}

void Progress::print(bool final) {
  const double el = std::chrono::duration<double>(Clock::now() - _t0).count();
  const double mbs = el > 0 ? static_cast<double>(_bytesDone) / 1e6 / el : 0.0;
  std::string eta = "-";
  if (!final && _bytesDone > 0 && _bytesTotal > _bytesDone)
    eta = fmt::format("{:.0f} s", el * static_cast<double>(_bytesTotal - _bytesDone) /
                                      static_cast<double>(_bytesDone));
  if (final)
    fmt::print(stderr,
               "[cleanmix] {:<6} done: {}/{} pieces on rank 0, {:.1f} MB in {:.2f} s ({:.1f} MB/s "
               "per rank)\n",
               _stage, _piecesDone, _piecesTotal, static_cast<double>(_bytesDone) / 1e6, el, mbs);
  else
    fmt::print(stderr, "[cleanmix] {:<6} {}/{} pieces on rank 0, {:.1f} MB/s per rank, ETA {}\n",
               _stage, _piecesDone, _piecesTotal, mbs, eta);
  std::fflush(stderr);
}

void PhaseTimer::lap(std::string_view phase) {
  const auto now = Clock::now();
  for (std::size_t k = 0; k < _names.size(); ++k)
    if (_names[k] == phase) _seconds[k] += std::chrono::duration<double>(now - _last).count();
  _last = now;
}

}  // namespace cleanmix
