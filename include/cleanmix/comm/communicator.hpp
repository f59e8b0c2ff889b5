#pragma once
/// \file
/// \brief The one place that talks MPI (pack -> MPI -> unpack). Owns a duplicated communicator;
/// nothing below the driver uses MPI_COMM_WORLD.
#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace cleanmix {

/// \brief MPI datatype of T.
template <class T>
MPI_Datatype mpiType() {
  if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, char>)
    return MPI_CHAR;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return MPI_UINT8_T;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return MPI_INT32_T;
  else if constexpr (std::is_same_v<T, std::uint32_t>)
    return MPI_UINT32_T;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, std::uint64_t> || std::is_same_v<T, unsigned long long>)
    return MPI_UINT64_T;
  else
    static_assert(sizeof(T) == 0, "cleanmix::mpiType: unsupported type");
}

/// \brief Throw Error("cleanmix::<where>: MPI error ...") unless rc == MPI_SUCCESS.
void mpiCheck(int rc, const char* where);

/// \brief A duplicated communicator (RAII) with the collectives cleanmix uses.
class Communicator {
 public:
  explicit Communicator(MPI_Comm parent);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  MPI_Comm comm() const { return _comm; }
  int rank() const { return _rank; }
  int size() const { return _size; }
  bool isRoot() const { return _rank == 0; }

  void barrier() const;

  /// \brief In-place element-wise sum over ranks (integers: exact, order-independent). Large
  /// arrays go in chunks below MPI's int count limit.
  template <class T>
  void allreduceSum(std::span<T> data) const {
    allreduce(data.data(), data.size(), mpiType<T>(), MPI_SUM);
  }
  template <class T>
  T allreduceSum(T v) const {
    allreduce(&v, 1, mpiType<T>(), MPI_SUM);
    return v;
  }
  template <class T>
  T allreduceMax(T v) const {
    allreduce(&v, 1, mpiType<T>(), MPI_MAX);
    return v;
  }
  template <class T>
  T allreduceMin(T v) const {
    allreduce(&v, 1, mpiType<T>(), MPI_MIN);
    return v;
  }
  /// \brief Exclusive prefix sum (0 on rank 0): row offsets for collective writes.
  std::uint64_t exscanSum(std::uint64_t v) const;

  /// \brief Gather one value per rank to every rank.
  template <class T>
  std::vector<T> allgather(T v) const {
    std::vector<T> out(_size);
    mpiCheck(MPI_Allgather(&v, 1, mpiType<T>(), out.data(), 1, mpiType<T>(), _comm), "allgather");
    _traffic.collectiveBytes += sizeof(T);
    return out;
  }

  /// \brief Broadcast bytes from root (sizes first).
  void bcastBytes(std::string& bytes, int root = 0) const;

  /// \brief Gather variable-length byte strings to root (root gets all, in rank order).
  std::vector<std::string> gatherBytes(const std::string& mine, int root = 0) const;

  /// \brief Personalised all-to-all of trivially copyable records: `send[r]` goes to rank r;
  /// returns what every rank sent here, in rank order. Counts the bytes this rank sends.
  template <class T>
  std::vector<T> alltoallv(const std::vector<std::vector<T>>& send,
                           std::vector<std::size_t>* recvCounts = nullptr) const {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<std::uint64_t> sendBytes(_size), recvBytes(_size);
    for (int r = 0; r < _size; ++r) sendBytes[r] = send[r].size() * sizeof(T);
    std::string packed;
    std::size_t total = 0;
    for (const auto& v : send) total += v.size() * sizeof(T);
    packed.resize(total);
    std::size_t at = 0;
    for (const auto& v : send) {
      if (!v.empty()) std::memcpy(packed.data() + at, v.data(), v.size() * sizeof(T));
      at += v.size() * sizeof(T);
    }
    const std::string got = exchangeBytes(packed, sendBytes, &recvBytes);
    if (recvCounts) {
      recvCounts->resize(_size);
      for (int r = 0; r < _size; ++r) (*recvCounts)[r] = recvBytes[r] / sizeof(T);
    }
    std::vector<T> out(got.size() / sizeof(T));
    if (!got.empty()) std::memcpy(out.data(), got.data(), got.size());
    return out;
  }
  /// \brief Personalised all-to-all of one packed buffer: bytes [sum(sendBytes[<r]), +sendBytes[r])
  /// go to rank r; returns what every rank sent here, in rank order (recvBytes: per rank).
  std::string exchangeBytes(const std::string& packed, const std::vector<std::uint64_t>& sendBytes,
                            std::vector<std::uint64_t>* recvBytes) const;
  /// \brief Bytes this rank has sent through alltoallv so far.
  std::uint64_t alltoallvBytes() const { return _a2aBytes; }

  /// \brief What this rank has sent so far (scaling studies, /timing attributes).
  struct Traffic {
    std::uint64_t p2pBytes = 0;         ///< to other ranks, exact: alltoallv and send
    std::uint64_t p2pRemoteBytes = 0;   ///< the part of p2pBytes to ranks on another host
    std::uint64_t collectiveBytes = 0;  ///< payload of reductions, broadcasts, gathers (its route
                                        ///< is MPI's choice, so it is not split by host)
  };
  const Traffic& traffic() const { return _traffic; }
  /// \brief Every rank's host name (gethostname), in rank order; the same on every rank.
  const std::vector<std::string>& hosts() const { return _hosts; }

  /// \brief Point-to-point for the ordered scans that need a carry from rank r-1 to rank r.
  void send(std::span<const double> data, int dest) const;
  void recv(std::span<double> data, int src) const;

  /// \brief True on every rank iff `ok` is true on every rank.
  bool allOk(bool ok) const;

 private:
  void allreduce(void* data, std::size_t count, MPI_Datatype type, MPI_Op op) const;
  void countSent(int dest, std::uint64_t bytes) const {
    if (dest == _rank) return;
    _traffic.p2pBytes += bytes;
    if (_hostId[dest] != _hostId[_rank]) _traffic.p2pRemoteBytes += bytes;
  }

  MPI_Comm _comm = MPI_COMM_NULL;
  std::vector<std::string> _hosts;
  std::vector<int> _hostId;  ///< per rank: index of its host among the distinct hosts
  mutable Traffic _traffic;
  int _rank = 0, _size = 1;
  mutable std::uint64_t _a2aBytes = 0;
};

}  // namespace cleanmix
