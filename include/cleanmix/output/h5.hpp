#pragma once
/// \file
/// \brief Small RAII layer over the HDF5 C API (HighFive's idea): every id closes itself, every
/// return code is checked, and every write is collective. Ranks with no rows still join each call
/// with an empty selection.
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace cleanmix::h5 {

/// \brief Throw Error("cleanmix::<where>: HDF5 call failed ...") when rc < 0.
void check(herr_t rc, const char* where);
hid_t checkId(hid_t id, const char* where);

/// \brief An owned HDF5 identifier.
class Id {
 public:
  Id() = default;
  Id(hid_t id, herr_t (*closer)(hid_t)) : _id(id), _close(closer) {}
  /// Closing can be collective in parallel HDF5, so while an exception unwinds (one rank
  /// failed and the job is about to be aborted) the id is dropped without an HDF5 call:
  /// closing would wait for ranks that never arrive.
  ~Id() {
    if (std::uncaught_exceptions() > 0)
      release();
    else
      reset();
  }
  Id(Id&& o) noexcept : _id(o._id), _close(o._close) { o._id = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      _id = o._id;
      _close = o._close;
      o._id = H5I_INVALID_HID;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return _id; }
  operator hid_t() const { return _id; }  // NOLINT: handles are used like the raw ids
  /// \brief Give up ownership without closing.
  hid_t release() {
    const hid_t id = _id;
    _id = H5I_INVALID_HID;
    return id;
  }
  void reset() {
    if (_id >= 0 && _close) _close(_id);
    _id = H5I_INVALID_HID;
  }

 private:
  hid_t _id = H5I_INVALID_HID;
  herr_t (*_close)(hid_t) = nullptr;
};

template <class T>
hid_t nativeType() {
  if constexpr (std::is_same_v<T, double>)
    return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, float>)
    return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return H5T_NATIVE_UINT8;
  else if constexpr (std::is_same_v<T, std::uint16_t>)
    return H5T_NATIVE_UINT16;
  else if constexpr (std::is_same_v<T, std::uint32_t>)
    return H5T_NATIVE_UINT32;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return H5T_NATIVE_UINT64;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return H5T_NATIVE_INT64;
  else
    static_assert(sizeof(T) == 0, "cleanmix::h5::nativeType: unsupported type");
}

/// \brief A parallel file being written collectively on `comm`.
class ParallelFile {
 public:
  ParallelFile(const std::string& path, MPI_Comm comm);
  hid_t id() const { return _file; }
  hid_t dxpl() const { return _dxpl; }
  hid_t dcpl() const { return _dcpl; }
  /// \brief Create a group (collective); returns its handle.
  Id createGroup(hid_t loc, const std::string& name) const;
  void close();

 private:
  Id _file, _dxpl, _dcpl, _gcpl;
};

/// \brief A 1-D dataset of `total` rows; this rank writes `local` at row `offset`.
template <class T>
void writeColumn(const ParallelFile& f, hid_t loc, const std::string& name,
                 std::span<const T> local, std::uint64_t offset, std::uint64_t total);

/// \brief A 2-D dataset [totalRows, cols] (row-major); this rank writes rows at `rowOffset`.
template <class T>
void writeMatrix(const ParallelFile& f, hid_t loc, const std::string& name,
                 std::span<const T> localRows, std::uint64_t rowOffset, std::uint64_t totalRows,
                 std::uint64_t cols);

/// \brief Fixed-length (NUL-padded) strings of `width` bytes; width must agree on every rank.
void writeStrings(const ParallelFile& f, hid_t loc, const std::string& name,
                  const std::vector<std::string>& local, std::uint64_t offset, std::uint64_t total,
                  std::size_t width);

/// \brief Attributes (collective: same value on every rank).
void writeAttr(hid_t loc, const std::string& name, const std::string& value);
void writeAttr(hid_t loc, const std::string& name, const std::vector<std::string>& values);
void writeAttr(hid_t loc, const std::string& name, std::uint64_t value);
void writeAttr(hid_t loc, const std::string& name, double value);

/// \brief Reading back (inspect, tests): the dims of a dataset, its element count, a whole 1-D or
/// N-D numeric dataset, and a fixed-length string dataset.
std::vector<hsize_t> shapeOf(hid_t dset);
std::uint64_t elements(const std::vector<hsize_t>& dims);
template <class T>
std::vector<T> readColumn(hid_t file, const std::string& path);
std::vector<std::string> readStrings(hid_t file, const std::string& path);

}  // namespace cleanmix::h5
