#pragma once
/// \file
/// \brief Small RAII layer over the HDF5 C API (HighFive's idea): every id closes itself, every
/// return code is checked, and every write is collective. Ranks with no rows still join each call
/// with an empty selection.
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <algorithm>
#include <exception>
#include <filesystem>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
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

/// \brief An attribute value of any kind writeAttr takes.
using AttrValue = std::variant<std::string, std::vector<std::string>, std::uint64_t, double>;
/// \brief Write a list of attributes (collective), in order.
void writeAttrs(hid_t loc, const std::vector<std::pair<std::string, AttrValue>>& attrs);
/// \brief Attributes of the dataset `name` under `loc`.
void writeDatasetAttrs(hid_t loc, const std::string& name,
                       const std::vector<std::pair<std::string, AttrValue>>& attrs);

/// \brief Reading back (inspect, tests): the dims of a dataset, its element count, a whole 1-D or
/// N-D numeric dataset, and a fixed-length string dataset.
std::vector<hsize_t> shapeOf(hid_t dset);
std::uint64_t elements(const std::vector<hsize_t>& dims);
template <class T>
std::vector<T> readColumn(hid_t file, const std::string& path);
std::vector<std::string> readStrings(hid_t file, const std::string& path);

/// \brief A serial HDF5 file of named 1-D columns (the sec2 driver, no MPI-IO): one rank's
/// checkpoint files. Large columns are chunked and compressed.
class SerialFile {
 public:
  static SerialFile create(const std::filesystem::path& p) {
    SerialFile f;
    f._id = Id(checkId(H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                       "SerialFile::create"),
               H5Fclose);
    return f;
  }
  static SerialFile open(const std::filesystem::path& p) {
    SerialFile f;
    f._id =
        Id(checkId(H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "SerialFile::open"), H5Fclose);
    return f;
  }
  template <class T>
  void put(const char* name, const std::vector<T>& v) const {
    const hsize_t n = v.size();
    Id space(checkId(H5Screate_simple(1, &n, nullptr), name), H5Sclose);
    // Large columns are chunked with shuffle + deflate(1): sorted indices and mostly-small
    // counts shrink several-fold for little CPU.
    Id dcpl(checkId(H5Pcreate(H5P_DATASET_CREATE), name), H5Pclose);
    if (n >= 4096) {
      const hsize_t chunk = std::min<hsize_t>(n, hsize_t{1} << 16);
      check(H5Pset_chunk(dcpl, 1, &chunk), name);
      check(H5Pset_shuffle(dcpl), name);
      check(H5Pset_deflate(dcpl, 1), name);
    }
    Id d(checkId(H5Dcreate2(_id, name, nativeType<T>(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                 name),
         H5Dclose);
    if (n) check(H5Dwrite(d, nativeType<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), name);
  }
  template <class T>
  void get(const char* name, std::vector<T>& v) const {
    v = readColumn<T>(_id, name);
  }
  void close() {
    check(H5Fflush(_id, H5F_SCOPE_LOCAL), "SerialFile::close");
    _id.reset();
  }

 private:
  Id _id;
};

}  // namespace cleanmix::h5
