#include "cleanmix/comm/communicator.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <map>

#include "cleanmix/core/error.hpp"

namespace cleanmix {

void mpiCheck(int rc, const char* where) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail(where, "MPI error {}: {}", rc, std::string(msg, static_cast<std::size_t>(len)));
}

Communicator::Communicator(MPI_Comm parent) {
  mpiCheck(MPI_Comm_dup(parent, &_comm), "Communicator");
  MPI_Comm_rank(_comm, &_rank);
  MPI_Comm_size(_comm, &_size);
  // Host names once, for the rank-to-host map in /timing and the inter-host traffic split.
  constexpr int kHostLen = 256;
  std::array<char, kHostLen> mine{};
  gethostname(mine.data(), kHostLen - 1);
  std::vector<char> all(static_cast<std::size_t>(kHostLen) * _size);
  mpiCheck(MPI_Allgather(mine.data(), kHostLen, MPI_CHAR, all.data(), kHostLen, MPI_CHAR, _comm),
           "Communicator");
  std::map<std::string, int> ids;
  for (int r = 0; r < _size; ++r) {
    _hosts.emplace_back(all.data() + static_cast<std::size_t>(r) * kHostLen);
    _hostId.push_back(ids.emplace(_hosts.back(), static_cast<int>(ids.size())).first->second);
  }
}

Communicator::~Communicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (_comm != MPI_COMM_NULL && !finalized) MPI_Comm_free(&_comm);
}

void Communicator::barrier() const {
  mpiCheck(MPI_Barrier(_comm), "barrier");
}

void Communicator::allreduce(void* data, std::size_t count, MPI_Datatype type, MPI_Op op) const {
  int typeSize = 0;
  MPI_Type_size(type, &typeSize);
  auto* p = static_cast<char*>(data);
  _traffic.collectiveBytes += count * static_cast<std::size_t>(typeSize);
  constexpr std::size_t kChunk = std::size_t{1} << 26;  // elements per call, well below INT_MAX
  for (std::size_t off = 0; off < count; off += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, count - off));
    mpiCheck(MPI_Allreduce(MPI_IN_PLACE, p + off * typeSize, n, type, op, _comm), "allreduce");
  }
}

std::uint64_t Communicator::exscanSum(std::uint64_t v) const {
  std::uint64_t out = 0;
  _traffic.collectiveBytes += sizeof v;
  mpiCheck(MPI_Exscan(&v, &out, 1, MPI_UINT64_T, MPI_SUM, _comm), "exscanSum");
  return _rank == 0 ? 0 : out;  // MPI leaves rank 0's result undefined
}

void Communicator::bcastBytes(std::string& bytes, int root) const {
  std::uint64_t n = bytes.size();
  mpiCheck(MPI_Bcast(&n, 1, MPI_UINT64_T, root, _comm), "bcastBytes");
  bytes.resize(n);
  _traffic.collectiveBytes += sizeof n + n;
  constexpr std::uint64_t kChunk = 1u << 30;
  for (std::uint64_t off = 0; off < n; off += kChunk)
    mpiCheck(MPI_Bcast(bytes.data() + off, static_cast<int>(std::min(kChunk, n - off)), MPI_CHAR,
                       root, _comm),
             "bcastBytes");
}

std::vector<std::string> Communicator::gatherBytes(const std::string& mine, int root) const {
  const int n = static_cast<int>(mine.size());
  if (mine.size() > static_cast<std::size_t>(INT_MAX)) fail("gatherBytes", "message too large");
  std::vector<int> sizes(_size);
  _traffic.collectiveBytes += sizeof n + mine.size();
  mpiCheck(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, root, _comm), "gatherBytes");
  std::vector<int> displs(_size, 0);
  std::string all;
  if (_rank == root) {
    long long total = 0;
    for (int r = 0; r < _size; ++r) {
      displs[r] = static_cast<int>(total);
      total += sizes[r];
    }
    if (total > INT_MAX) fail("gatherBytes", "gathered data too large ({} bytes)", total);
    all.resize(static_cast<std::size_t>(total));
  }
  mpiCheck(MPI_Gatherv(mine.data(), n, MPI_CHAR, all.data(), sizes.data(), displs.data(), MPI_CHAR,
                       root, _comm),
           "gatherBytes");
  std::vector<std::string> out;
  if (_rank == root)
    for (int r = 0; r < _size; ++r) out.push_back(all.substr(displs[r], sizes[r]));
  return out;
}

std::string Communicator::exchangeBytes(const std::string& packed,
                                        const std::vector<std::uint64_t>& sendBytes,
                                        std::vector<std::uint64_t>* recvBytesOut) const {
  std::vector<std::uint64_t>& recvBytes = *recvBytesOut;
  recvBytes.assign(_size, 0);
  mpiCheck(MPI_Alltoall(sendBytes.data(), 1, mpiType<std::uint64_t>(), recvBytes.data(), 1,
                        mpiType<std::uint64_t>(), _comm),
           "alltoallv");
  std::vector<int> sc(_size), sd(_size), rc(_size), rd(_size);
  std::uint64_t so = 0, ro = 0;
  for (int r = 0; r < _size; ++r) {
    if (so > INT_MAX || ro > INT_MAX || sendBytes[r] > INT_MAX || recvBytes[r] > INT_MAX)
      fail("alltoallv", "exchange over 2 GiB per rank is not supported; use more ranks");
    sc[r] = static_cast<int>(sendBytes[r]);
    sd[r] = static_cast<int>(so);
    rc[r] = static_cast<int>(recvBytes[r]);
    rd[r] = static_cast<int>(ro);
    so += sendBytes[r];
    ro += recvBytes[r];
  }
  std::string out(ro, '\0');
  mpiCheck(MPI_Alltoallv(packed.data(), sc.data(), sd.data(), MPI_BYTE, out.data(), rc.data(),
                         rd.data(), MPI_BYTE, _comm),
           "alltoallv");
  _a2aBytes += so;
  _traffic.collectiveBytes += sizeof(std::uint64_t) * _size;  // the counts
  for (int r = 0; r < _size; ++r) countSent(r, sendBytes[r]);
  return out;
}

void Communicator::send(std::span<const double> data, int dest) const {
  countSent(dest, data.size_bytes());
  mpiCheck(MPI_Send(data.data(), static_cast<int>(data.size()), MPI_DOUBLE, dest, 17, _comm),
           "send");
}

void Communicator::recv(std::span<double> data, int src) const {
  mpiCheck(MPI_Recv(data.data(), static_cast<int>(data.size()), MPI_DOUBLE, src, 17, _comm,
                    MPI_STATUS_IGNORE),
           "recv");
}

bool Communicator::allOk(bool ok) const {
  int v = ok ? 1 : 0;
  _traffic.collectiveBytes += sizeof v;
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MIN, _comm), "allOk");
  return v == 1;
}

}  // namespace cleanmix
