#pragma once
/// \file
/// \brief Rank-0 progress lines on stderr, at most one every few seconds: stage, pieces done /
/// total, MB/s and ETA. Rank 0 extrapolates from its own share (the assignment is byte-balanced).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

/// \brief Seconds per phase of a run (the /timing row of this rank): lap(phase) books the time
/// since the previous lap to `phase`. The phases are fixed when the timer is made.
class PhaseTimer {
 public:
  explicit PhaseTimer(std::vector<std::string> phases)
      : _names(std::move(phases)), _seconds(_names.size(), 0.0), _last(Clock::now()) {}
  void lap(std::string_view phase);
  const std::vector<std::string>& names() const { return _names; }
  const std::vector<double>& seconds() const { return _seconds; }

 private:
  using Clock = std::chrono::steady_clock;
  std::vector<std::string> _names;
  std::vector<double> _seconds;
  Clock::time_point _last;
};

}  // namespace cleanmix
