// What a call allocates, computed from its sizes before anything is allocated: a request that
// cannot fit in the backend's memory is refused with the amount it needs, instead of overflowing a
// size or failing in an allocation halfway through. The counts follow what model.hpp and
// generation/ allocate (activations, caches, logits, the search's rows); they are upper bounds to
// within a few percent, so a refused request would not have fitted.
#pragma once

#include <cstdint>
#include <string>

#include "t5/config/hparams.hpp"
#include "t5/core/error.hpp"
#include "t5/core/memory_size.hpp"

namespace t5 {

/// The activations of `rows` rows (layers.hpp Activations), `act` bytes per activation.
inline void add_activations(Bytes& n, const Hparams& h, bool gated, std::int64_t act, std::int64_t rows) {
  n.add({rows, h.d_model, 4}).add({rows, h.d_model, act}).add({rows, 5 * h.inner_dim(), act});
  n.add({rows, (gated ? 3 : 1) * h.d_ff, act});
}

/// An encoder pass over batch x length tokens and its float32 copy to the host, without the
/// attention scratch (the backend's to say).
inline Bytes encoder_bytes(const Hparams& h, bool gated, std::int64_t act, std::int64_t batch, std::int64_t length) {
  Bytes n;
  n.add({batch, length, 10});  // ids, mask and document ids, on the host and the backend
  add_activations(n, h, gated, act, checked_product(batch, length));
  n.add({batch, length, h.d_model, 2 * act + 4});  // the states, their download, the float32 result
  return n;
}

/// What a generate call adds to its encoder pass: `rows` decoder rows over `inputs` encoder rows of
/// `input_length`, `capacity` positions of self-attention cache each.
inline Bytes decoder_bytes(const Hparams& h, bool gated, std::int64_t act, std::int64_t inputs, std::int64_t input_length,
                           std::int64_t rows, std::int64_t capacity, bool beams) {
  Bytes n;
  n.add({h.num_decoder_layers + (beams ? 1 : 0), rows, capacity, 2 * h.inner_dim(), act});  // self K/V (+ beam reorder scratch)
  n.add({h.num_decoder_layers, inputs, input_length, 2 * h.inner_dim(), act});             // cross K/V
  n.add({rows, capacity, 2 + 3 * 4});  // self mask on the host and the backend; the search's token rows
  add_activations(n, h, gated, act, rows);
  n.add({rows, h.d_model, act}).add({rows, h.vocab_size, 4 * 2});  // hidden; logits and their host copy
  return n;
}

/// Throws Error(InvalidArgument) when `needed` exceeds `available`, naming the request `what`.
inline void require_fits(const std::string& what, std::uint64_t needed, std::uint64_t available, const char* memory) {
  if (needed > available)
    throw Error(ErrorCode::InvalidArgument, what + " needs " + human_bytes(needed) + " of working memory, more than the " +
                                                human_bytes(available) + " of " + memory);
}

}  // namespace t5
