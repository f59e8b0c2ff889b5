#pragma once
/// \file
/// \brief Rank-0 progress lines on stderr, at most one every few seconds: stage, pieces done /
/// total, MB/s and ETA. Rank 0 extrapolates from its own share (the assignment is byte-balanced).
#include <chrono>
#include <cstdint>
#include <string>

namespace cleanmix {

class Progress {
 public:
  Progress(bool enabled, double minSeconds) : _enabled(enabled), _minSeconds(minSeconds) {}
  void start(const std::string& stage, std::uint64_t piecesTotal, std::uint64_t bytesTotal);
  void update(std::uint64_t piecesDone, std::uint64_t bytesDone);
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  bool _enabled;
  double _minSeconds;
  std::string _stage;
  std::uint64_t _piecesTotal = 0, _bytesTotal = 0, _piecesDone = 0, _bytesDone = 0;
  Clock::time_point _t0, _last;
  void print(bool final);
};

}  // namespace cleanmix
