// Non-owning views of row-major matrices, tagged with the memory space they live in, so that a
// device view handed to a CPU op (or the reverse) does not compile.
#pragma once

#include <cstdint>
#include <type_traits>

namespace t5 {

struct HostSpace {};
struct DeviceSpace {};

/// A row-major [rows, cols] matrix whose rows are `ld` elements apart (ld >= cols), so that a
/// column block of a fused projection output (q, k or v of [N, 3*inner]) is a view too.
template <class T, class Space = HostSpace>
struct MatrixView {
  T* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t ld = 0;

  MatrixView() = default;
  MatrixView(T* data_, std::int64_t rows_, std::int64_t cols_, std::int64_t ld_) : data(data_), rows(rows_), cols(cols_), ld(ld_) {}
  MatrixView(T* data_, std::int64_t rows_, std::int64_t cols_) : MatrixView(data_, rows_, cols_, cols_) {}
  /// A mutable view converts to a read-only one.
  template <class U>
    requires std::is_same_v<const U, T> && (!std::is_same_v<U, T>)
  MatrixView(const MatrixView<U, Space>& o) : MatrixView(o.data, o.rows, o.cols, o.ld) {}

  T* row(std::int64_t r) const { return data + r * ld; }
  /// Rows [first, first + count).
  MatrixView rows_from(std::int64_t first, std::int64_t count) const { return {row(first), count, cols, ld}; }
  /// Columns [first, first + count) of every row.
  MatrixView cols_from(std::int64_t first, std::int64_t count) const { return {data + first, rows, count, ld}; }
};

template <class T, class Space = HostSpace>
using ConstMatrixView = MatrixView<const T, Space>;

}  // namespace t5
