// DecoderState: what the decoder keeps across the calls of one batch (teacher forcing, or every step
// of a generate call): the self-attention caches of every layer, allocated once for the whole call;
// the cross-attention K/V, computed once per input and shared by its beams or samples; the masks;
// and the scratch of beam search's cache reorder.
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "t5/core/backend.hpp"
#include "t5/model/decoder.hpp"
#include "t5/model/weights.hpp"

namespace t5 {

/// How decoder rows map onto encoder rows, and the cache they need.
struct DecoderLayout {
  std::int64_t inputs = 0;          ///< encoder rows
  std::int64_t rows_per_input = 1;  ///< decoder rows per encoder row (beams or samples), sharing its cross-attention K/V
  std::int64_t capacity = 0;        ///< positions the self-attention cache holds per decoder row
  bool reorderable = false;         ///< allocate the scratch reorder_cache needs (beam search)
  std::int64_t rows() const { return inputs * rows_per_input; }
};

template <Backend B>
struct DecoderState {
  using Act = typename B::Act;
  DecoderLayout layout;
  std::int64_t length = 0;  ///< positions already in the caches
  std::int64_t encoder_length = 0;
  std::vector<typename B::template Buffer<Act>> self_kv;   ///< per layer [rows * capacity, 2 * inner]: k | v
  std::vector<typename B::template Buffer<Act>> cross_kv;  ///< per layer [inputs * encoder_length, 2 * inner]: k | v
  typename B::template Buffer<Act> reorder_scratch;        ///< [rows * capacity, 2 * inner] when reorderable
  typename B::template Buffer<std::int32_t> parents;       ///< [rows, 1] reorder_cache's parents, when reorderable
  typename B::template Buffer<std::uint8_t> self_mask;     ///< [rows, capacity] decoder padding, 1 = token
  typename B::template Buffer<std::uint8_t> encoder_mask;  ///< [inputs, encoder_length], 1 = token

  /// The views run_decoder reads and appends to (valid until the next reorder_cache).
  DecoderCaches<B> caches() {
    return {self_kv, cross_kv, self_mask.data(), encoder_mask.data(), layout.rows(), layout.rows_per_input, layout.capacity, length,
            encoder_length};
  }

  /// Bytes of K/V held: the self-attention caches, the cross-attention K/V and the reorder scratch.
  std::size_t cache_bytes() const {
    std::size_t n = reorder_scratch.bytes();
    for (const auto& kv : self_kv) n += kv.bytes();
    for (const auto& kv : cross_kv) n += kv.bytes();
    return n;
  }
};

/// Allocates the caches of every layer of `layers` and computes their cross-attention K/V from the
/// encoder output `encoded` [inputs * encoder_length, d_model]. `encoder_mask` and `self_mask` are
/// host vectors [inputs, encoder_length] and [decoder rows, capacity].
template <Backend B>
DecoderState<B> start_decoder(B& b, std::type_identity_t<std::span<const DecoderLayerWeights<B>>> layers, std::int64_t inner,
                              ConstMatrixView<typename B::Act, typename B::Space> encoded, const DecoderLayout& layout,
                              std::span<const std::uint8_t> encoder_mask, std::span<const std::uint8_t> self_mask) {
  using Act = typename B::Act;
  DecoderState<B> s;
  s.layout = layout;
  s.encoder_length = encoded.rows / layout.inputs;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    s.self_kv.push_back(b.template allocate<Act>(layout.rows() * layout.capacity, 2 * inner));
    s.cross_kv.push_back(b.template allocate<Act>(encoded.rows, 2 * inner));
  }
  project_cross_kv(b, layers, encoded, std::span(s.cross_kv));
  if (layout.reorderable) {
    s.reorder_scratch = b.template allocate<Act>(layout.rows() * layout.capacity, 2 * inner);
    s.parents = b.template allocate<std::int32_t>(layout.rows(), 1);
  }
  s.encoder_mask = b.template upload<std::uint8_t>(encoder_mask, layout.inputs, s.encoder_length);
  s.self_mask = b.template upload<std::uint8_t>(self_mask, layout.rows(), layout.capacity);
  return s;
}

/// Beam search: row r continues from row parents[r], so its self-attention cache becomes a copy of
/// that row's: one gather per layer into the preallocated scratch, which then becomes the layer's
/// cache (the old cache is the next layer's scratch). Nothing moves when every row keeps its own.
template <Backend B>
void reorder_cache(B& b, DecoderState<B>& s, std::span<const std::int32_t> parents) {
  bool moved = false;
  for (std::size_t r = 0; r < parents.size(); ++r) moved = moved || parents[r] != static_cast<std::int32_t>(r);
  if (s.length == 0 || !moved) return;
  b.upload_into(parents, s.parents.data());
  for (auto& kv : s.self_kv) {
    b.gather_blocks(kv.view(), s.parents.data(), s.layout.capacity, s.length, s.reorder_scratch.view());
    std::swap(kv, s.reorder_scratch);
  }
}

}  // namespace t5
