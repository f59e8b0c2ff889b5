#include "cleanmix/io/h5.hpp"

#include <algorithm>
#include <cstring>

#include "cleanmix/core/error.hpp"

namespace cleanmix::h5 {

void check(herr_t rc, const char* where) {
  if (rc < 0) fail(where, "HDF5 call failed (see the HDF5 error stack above)");
}
hid_t checkId(hid_t id, const char* where) {
  if (id < 0) fail(where, "HDF5 call failed (see the HDF5 error stack above)");
  return id;
}

ParallelFile::ParallelFile(const std::string& path, MPI_Comm comm) {
  Id fapl(checkId(H5Pcreate(H5P_FILE_ACCESS), "ParallelFile"), H5Pclose);
  check(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL), "ParallelFile");
  check(H5Pset_all_coll_metadata_ops(fapl, true), "ParallelFile");
  check(H5Pset_coll_metadata_write(fapl, true), "ParallelFile");
  Id fcpl(checkId(H5Pcreate(H5P_FILE_CREATE), "ParallelFile"), H5Pclose);
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl);
  if (file < 0) fail("writeOutput", "cannot create '{}' (is the directory writable?)", path);
  _file = Id(file, H5Fclose);
  _dxpl = Id(checkId(H5Pcreate(H5P_DATASET_XFER), "ParallelFile"), H5Pclose);
  check(H5Pset_dxpl_mpio(_dxpl, H5FD_MPIO_COLLECTIVE), "ParallelFile");
  _dcpl = Id(checkId(H5Pcreate(H5P_DATASET_CREATE), "ParallelFile"), H5Pclose);
  check(H5Pset_obj_track_times(_dcpl, false), "ParallelFile");  // bytes depend on data only
  _gcpl = Id(checkId(H5Pcreate(H5P_GROUP_CREATE), "ParallelFile"), H5Pclose);
  check(H5Pset_obj_track_times(_gcpl, false), "ParallelFile");
}

Id ParallelFile::createGroup(hid_t loc, const std::string& name) const {
  return Id(checkId(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, _gcpl, H5P_DEFAULT), "createGroup"),
            H5Gclose);
}

void ParallelFile::close() {
  _gcpl.reset();
  _dcpl.reset();
  _dxpl.reset();
  if (_file.get() >= 0) check(H5Fclose(_file.release()), "ParallelFile::close");
}

namespace {

/// Create a dataset of `dims` and write this rank's block [offset, offset + localRows) of rows.
void writeBlock(const ParallelFile& f, hid_t loc, const std::string& name, hid_t fileType,
                hid_t memType, const void* data, std::uint64_t offset, std::uint64_t localRows,
                std::uint64_t totalRows, std::uint64_t cols) {
  const int rank = cols > 0 ? 2 : 1;
  const hsize_t dims[2] = {totalRows, cols};
  Id fspace(checkId(H5Screate_simple(rank, dims, nullptr), "writeBlock"), H5Sclose);
  Id dset(
      checkId(H5Dcreate2(loc, name.c_str(), fileType, fspace, H5P_DEFAULT, f.dcpl(), H5P_DEFAULT),
              name.c_str()),
      H5Dclose);
  Id mspace;
  static const char dummy[16] = {};
  const void* buf = data;
  if (localRows == 0 || (rank == 2 && cols == 0)) {
    const hsize_t one = 1;
    mspace = Id(checkId(H5Screate_simple(1, &one, nullptr), "writeBlock"), H5Sclose);
    check(H5Sselect_none(mspace), "writeBlock");
    check(H5Sselect_none(fspace), "writeBlock");
    buf = dummy;
  } else {
    const hsize_t start[2] = {offset, 0};
    const hsize_t count[2] = {localRows, cols};
    mspace = Id(checkId(H5Screate_simple(rank, count, nullptr), "writeBlock"), H5Sclose);
    check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr),
          "writeBlock");
  }
  if (totalRows > 0 && (rank == 1 || cols > 0))
    check(H5Dwrite(dset, memType, mspace, fspace, f.dxpl(), buf), name.c_str());
}

}  // namespace

template <class T>
void writeColumn(const ParallelFile& f, hid_t loc, const std::string& name,
                 std::span<const T> local, std::uint64_t offset, std::uint64_t total) {
  writeBlock(f, loc, name, nativeType<T>(), nativeType<T>(), local.data(), offset, local.size(),
             total, 0);
}

template <class T>
void writeMatrix(const ParallelFile& f, hid_t loc, const std::string& name,
                 std::span<const T> localRows, std::uint64_t rowOffset, std::uint64_t totalRows,
                 std::uint64_t cols) {
  const std::uint64_t n = cols ? localRows.size() / cols : 0;
  writeBlock(f, loc, name, nativeType<T>(), nativeType<T>(), localRows.data(), rowOffset, n,
             totalRows, cols);
}

#define CLEANMIX_H5_INSTANTIATE(T)                                                                 \
  template void writeColumn<T>(const ParallelFile&, hid_t, const std::string&, std::span<const T>, \
                               std::uint64_t, std::uint64_t);                                      \
  template void writeMatrix<T>(const ParallelFile&, hid_t, const std::string&, std::span<const T>, \
                               std::uint64_t, std::uint64_t, std::uint64_t);
CLEANMIX_H5_INSTANTIATE(double)
CLEANMIX_H5_INSTANTIATE(std::uint8_t)
CLEANMIX_H5_INSTANTIATE(std::uint16_t)
CLEANMIX_H5_INSTANTIATE(std::uint32_t)
CLEANMIX_H5_INSTANTIATE(std::int32_t)
CLEANMIX_H5_INSTANTIATE(std::uint64_t)
CLEANMIX_H5_INSTANTIATE(std::int64_t)
#undef CLEANMIX_H5_INSTANTIATE

namespace {
Id stringType(std::size_t width) {
  Id t(checkId(H5Tcopy(H5T_C_S1), "stringType"), H5Tclose);
  check(H5Tset_size(t, width + 1), "stringType");  // room for the terminator
  check(H5Tset_strpad(t, H5T_STR_NULLTERM), "stringType");
  check(H5Tset_cset(t, H5T_CSET_UTF8), "stringType");
  return t;
}
}  // namespace

void writeStrings(const ParallelFile& f, hid_t loc, const std::string& name,
                  const std::vector<std::string>& local, std::uint64_t offset, std::uint64_t total,
                  std::size_t width) {
  const std::size_t stride = width + 1;
  std::vector<char> buf(local.size() * stride, '\0');
  for (std::size_t i = 0; i < local.size(); ++i)
    std::memcpy(buf.data() + i * stride, local[i].data(), std::min(width, local[i].size()));
  Id t = stringType(width);
  writeBlock(f, loc, name, t, t, buf.data(), offset, local.size(), total, 0);
}

void writeAttr(hid_t loc, const std::string& name, const std::string& value) {
  Id t = stringType(value.size());
  Id space(checkId(H5Screate(H5S_SCALAR), "writeAttr"), H5Sclose);
  Id a(checkId(H5Acreate2(loc, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT), "writeAttr"),
       H5Aclose);
  check(H5Awrite(a, t, value.c_str()), "writeAttr");
}

void writeAttr(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  std::vector<char> buf(values.size() * (width + 1), '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::memcpy(buf.data() + i * (width + 1), values[i].data(), values[i].size());
  Id t = stringType(width);
  const hsize_t n = values.size();
  Id space(checkId(H5Screate_simple(1, &n, nullptr), "writeAttr"), H5Sclose);
  Id a(checkId(H5Acreate2(loc, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT), "writeAttr"),
       H5Aclose);
  check(H5Awrite(a, t, buf.data()), "writeAttr");
}

void writeAttr(hid_t loc, const std::string& name, std::uint64_t value) {
  Id space(checkId(H5Screate(H5S_SCALAR), "writeAttr"), H5Sclose);
  Id a(checkId(H5Acreate2(loc, name.c_str(), H5T_NATIVE_UINT64, space, H5P_DEFAULT, H5P_DEFAULT),
               "writeAttr"),
       H5Aclose);
  check(H5Awrite(a, H5T_NATIVE_UINT64, &value), "writeAttr");
}

void writeAttr(hid_t loc, const std::string& name, double value) {
  Id space(checkId(H5Screate(H5S_SCALAR), "writeAttr"), H5Sclose);
  Id a(checkId(H5Acreate2(loc, name.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT),
               "writeAttr"),
       H5Aclose);
  check(H5Awrite(a, H5T_NATIVE_DOUBLE, &value), "writeAttr");
}

std::vector<hsize_t> shapeOf(hid_t dset) {
  Id space(checkId(H5Dget_space(dset), "h5::read"), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

std::uint64_t elements(const std::vector<hsize_t>& dims) {
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

template <class T>
std::vector<T> readColumn(hid_t file, const std::string& path) {
  Id d(checkId(H5Dopen2(file, path.c_str(), H5P_DEFAULT), path.c_str()), H5Dclose);
  std::vector<T> v(elements(shapeOf(d)));
  if (!v.empty())
    check(H5Dread(d, h5::nativeType<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), path.c_str());
  return v;
}

std::vector<std::string> readStrings(hid_t file, const std::string& path) {
  Id d(checkId(H5Dopen2(file, path.c_str(), H5P_DEFAULT), path.c_str()), H5Dclose);
  Id t(checkId(H5Dget_type(d), path.c_str()), H5Tclose);
  const std::size_t w = H5Tget_size(t);
  const std::uint64_t n = elements(shapeOf(d));
  std::vector<char> buf(n * w);
  if (n) check(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), path.c_str());
  std::vector<std::string> out;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string s(buf.data() + i * w, w);
    s.resize(std::strlen(s.c_str()));
    out.push_back(std::move(s));
  }
  return out;
}

template std::vector<double> readColumn<double>(hid_t, const std::string&);
template std::vector<std::uint8_t> readColumn<std::uint8_t>(hid_t, const std::string&);
template std::vector<std::uint16_t> readColumn<std::uint16_t>(hid_t, const std::string&);
template std::vector<std::uint32_t> readColumn<std::uint32_t>(hid_t, const std::string&);
template std::vector<std::uint64_t> readColumn<std::uint64_t>(hid_t, const std::string&);
template std::vector<std::int64_t> readColumn<std::int64_t>(hid_t, const std::string&);

void writeAttrs(hid_t loc, const std::vector<std::pair<std::string, AttrValue>>& attrs) {
  for (const auto& [name, value] : attrs)
    std::visit([&, &n = name](const auto& v) { writeAttr(loc, n, v); }, value);
}

void writeDatasetAttrs(hid_t loc, const std::string& name,
                       const std::vector<std::pair<std::string, AttrValue>>& attrs) {
  Id ds(checkId(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), name.c_str()), H5Dclose);
  writeAttrs(ds, attrs);
}

}  // namespace cleanmix::h5
