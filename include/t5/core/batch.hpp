// The host-side inputs and outputs of the model API: a batch of token id rows with its padding mask
// (and optional packed-document ids), and a float tensor returned to the caller. The tokenizer
// produces TokenBatch; the models consume it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/memory_size.hpp"

namespace t5 {

/// The longest row of tokens a call accepts (input length, or max_new_tokens): attention over one
/// row grows with its length squared, so rows beyond 2^24 positions could never run, and the bound
/// keeps every size derived from a length far from overflow.
inline constexpr std::int64_t max_row_length = std::int64_t{1} << 24;

/// `batch` rows of `length` token ids, row-major. mask[b, s] = 1 for a token, 0 for padding (any
/// pattern, not only right padding); empty means no padding. documents[b, s] (encoder only) packs
/// several documents in one row: attention never crosses documents; empty means one per row.
struct TokenBatch {
  std::int64_t batch = 0;
  std::int64_t length = 0;
  std::vector<std::int32_t> ids;
  std::vector<std::uint8_t> mask;
  std::vector<std::int32_t> documents;

  /// Rows of different lengths, right-padded with `pad_id` to the longest (or to `min_length` when
  /// that is longer), with their mask.
  static TokenBatch from_rows(const std::vector<std::vector<std::int32_t>>& rows, std::int32_t pad_id, std::int64_t min_length = 0) {
    TokenBatch t;
    t.batch = static_cast<std::int64_t>(rows.size());
    t.length = min_length;
    for (const auto& r : rows) t.length = std::max<std::int64_t>(t.length, static_cast<std::int64_t>(r.size()));
    if (t.length > max_row_length)  // before allocating rows of that length
      throw Error(ErrorCode::InvalidArgument, "rows of " + std::to_string(t.length) + " tokens, longer than the limit of " +
                                                  std::to_string(max_row_length));
    const std::uint64_t bytes = Bytes().add({t.batch, t.length, 5}).total();
    if (bytes > host_memory_bytes())
      throw Error(ErrorCode::InvalidArgument, std::to_string(t.batch) + " rows of " + std::to_string(t.length) + " tokens need " +
                                                  human_bytes(bytes) + ", more than this machine's " + human_bytes(host_memory_bytes()));
    t.ids.assign(static_cast<std::size_t>(t.batch * t.length), pad_id);
    t.mask.assign(t.ids.size(), 0);
    for (std::size_t b = 0; b < rows.size(); ++b)
      for (std::size_t s = 0; s < rows[b].size(); ++s) {
        t.ids[b * static_cast<std::size_t>(t.length) + s] = rows[b][s];
        t.mask[b * static_cast<std::size_t>(t.length) + s] = 1;
      }
    return t;
  }

  /// Throws Error(InvalidArgument) naming `what` unless the sizes agree, every id is below
  /// `vocab_size` and the mask holds only 0 and 1.
  void validate(const std::string& what, std::int64_t vocab_size) const {
    auto fail = [&](const std::string& msg) { throw Error(ErrorCode::InvalidArgument, what + ": " + msg); };
    if (batch <= 0 || length <= 0) fail("empty batch (" + std::to_string(batch) + " rows of " + std::to_string(length) + " tokens)");
    if (length > max_row_length) fail("rows of " + std::to_string(length) + " tokens, longer than the limit of " + std::to_string(max_row_length));
    std::int64_t product = 0;
    if (__builtin_mul_overflow(batch, length, &product) || static_cast<std::uint64_t>(product) != ids.size())
      fail(std::to_string(ids.size()) + " ids for " + std::to_string(batch) + " x " + std::to_string(length));
    const auto n = static_cast<std::size_t>(product);
    if (!mask.empty() && mask.size() != n) fail("mask has " + std::to_string(mask.size()) + " entries, expected " + std::to_string(n));
    if (!documents.empty() && documents.size() != n)
      fail("documents has " + std::to_string(documents.size()) + " entries, expected " + std::to_string(n));
    for (std::size_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= vocab_size)
        fail("token id " + std::to_string(ids[i]) + " at row " + std::to_string(i / length) + ", position " + std::to_string(i % length) +
             " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
      if (!mask.empty() && mask[i] > 1) fail("mask values must be 0 or 1, found " + std::to_string(mask[i]));
    }
  }

  /// The mask, or all ones when none was given.
  std::vector<std::uint8_t> mask_or_ones() const {
    return mask.empty() ? std::vector<std::uint8_t>(static_cast<std::size_t>(batch * length), 1) : mask;
  }
};

/// The first of `rows` rows of `values` (row-major, `cols` each) holding a NaN or an infinity, or -1.
inline std::int64_t first_nonfinite_row(std::span<const float> values, std::int64_t cols) {
  const std::size_t bad = first_non_finite(values);  // dtype.hpp's vectorised scan
  return bad == values.size() ? -1 : static_cast<std::int64_t>(bad) / cols;
}

/// A dense float tensor on the host, row-major.
struct HostTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;

  /// Element [i, j, k] of a rank-3 tensor.
  float at(std::int64_t i, std::int64_t j, std::int64_t k) const { return values[static_cast<std::size_t>((i * shape[1] + j) * shape[2] + k)]; }
};

}  // namespace t5
