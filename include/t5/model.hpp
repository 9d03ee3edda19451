// Model<V, B>: a model whose variant V is chosen at compile time, on backend B (the CPU reference by
// default; cuda::Backend with t5/cuda.hpp). It reads the pipeline in order: the encoder
// (model/encoder.hpp), the decoder (model/decoder.hpp), the generation loop (generation/).
// Header-only: naming Model<V, B> instantiates that variant alone. A program linked with libt5cc
// finds every dispatchable variant compiled there (t5/model_instances.hpp) and instantiates none.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <type_traits>
#include <vector>

#include "t5/config/variant.hpp"
#include "t5/core/backend.hpp"
#include "t5/core/batch.hpp"
#include "t5/cpu/backend.hpp"
#include "t5/generation/decoder_state.hpp"
#include "t5/generation/generate.hpp"
#include "t5/generation/options.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/load.hpp"
#include "t5/model/decoder.hpp"
#include "t5/model/encoder.hpp"
#include "t5/model/layers.hpp"
#include "t5/model/relative_position.hpp"
#include "t5/model/weights.hpp"

namespace t5 {

template <VariantLike V, Backend B = cpu::Backend<float>>
class Model final : public AnyModel {
 public:
  using Act = typename B::Act;

  /// Opens the checkpoint in `dir` and loads it; throws Error(UnsupportedVariant) if its variant
  /// is not V (the checkpoint is checked against the type, not trusted).
  static Model load(const std::filesystem::path& dir, const LoadOptions& options = {});
  /// Loads `ckpt` (whose mapped files the weights may go on using in place).
  Model(const Checkpoint& ckpt, const LoadOptions& options);
  Model(Model&&) = default;  // deleted where the backend cannot move (the GPU's owns a stream)
  ~Model() override;

  const Detected& detected() const override { return detected_; }
  bool has_decoder() const override { return weights_.has_decoder(); }
  B& backend() { return backend_; }

  HostTensor encode(const TokenBatch& input) override;
  HostTensor logits(const TokenBatch& input, const TokenBatch& decoder_input) override;
  Generation generate(const TokenBatch& input, const GenerationOptions& options = {}) override;

 private:
  struct Encoded {
    typename B::template Buffer<Act> states;  // [batch * length, d_model]
    std::vector<std::uint8_t> mask;           // host [batch, length]
  };

  static B make_backend(const LoadOptions& o);
  static Detected checked(const Checkpoint& ckpt);
  void require_decoder() const;
  typename B::template Buffer<std::int32_t> upload_buckets(bool bidirectional);
  PositionBiasArgs buckets(const typename B::template Buffer<std::int32_t>& table) const { return {nullptr, table.data(), (table.cols() - 1) / 2}; }
  Encoded run_encoder_on(const TokenBatch& input);
  /// Caches for `layout` over the encoder output, with the decoder mask `self_mask` [rows, capacity].
  DecoderState<B> start_decoder_on(const Encoded& e, const DecoderLayout& layout, std::span<const std::uint8_t> self_mask);
  std::vector<float> to_host(const typename B::template Buffer<Act>& buffer);

  Detected detected_;
  B backend_;
  ModelWeights<V, B> weights_;
  typename B::template Buffer<std::int32_t> encoder_buckets_;
  typename B::template Buffer<std::int32_t> decoder_buckets_;
};

// The members are defined out of the class, so they are not inline: where libt5cc's explicit
// instantiation is declared (model_instances.hpp), a program compiles none of them.

template <VariantLike V, Backend B>
Model<V, B> Model<V, B>::load(const std::filesystem::path& dir, const LoadOptions& options) {
  return Model(Checkpoint::open(dir), options);
}

template <VariantLike V, Backend B>
Model<V, B>::Model(const Checkpoint& ckpt, const LoadOptions& options)
    : detected_(checked(ckpt)),
      backend_(make_backend(options)),
      weights_(load_weights<V>(ckpt, backend_)),
      encoder_buckets_(upload_buckets(true)),
      decoder_buckets_(upload_buckets(false)) {}

template <VariantLike V, Backend B>
Model<V, B>::~Model() = default;

template <VariantLike V, Backend B>
HostTensor Model<V, B>::encode(const TokenBatch& input) {
  Encoded e = run_encoder_on(input);
  return {{input.batch, input.length, hparams().d_model}, to_host(e.states)};
}

template <VariantLike V, Backend B>
HostTensor Model<V, B>::logits(const TokenBatch& input, const TokenBatch& decoder_input) {
  require_decoder();
  const Hparams& h = hparams();
  decoder_input.validate("decoder input", h.vocab_size);
  if (!decoder_input.documents.empty()) throw Error(ErrorCode::InvalidArgument, "decoder input: packed documents are for the encoder only");
  if (decoder_input.batch != input.batch)
    throw Error(ErrorCode::InvalidArgument, "decoder input has " + std::to_string(decoder_input.batch) + " rows, the input " +
                                                std::to_string(input.batch));
  Encoded e = run_encoder_on(input);
  const std::int64_t rows = decoder_input.batch * decoder_input.length;
  DecoderState<B> state = start_decoder_on(e, {input.batch, 1, decoder_input.length}, decoder_input.mask_or_ones());
  auto ids = backend_.template upload<std::int32_t>(decoder_input.ids, decoder_input.batch, decoder_input.length);
  Activations<B> act(backend_, h, V::gated, rows);
  auto hidden = backend_.template allocate<Act>(rows, h.d_model);
  auto logits = backend_.template allocate<float>(rows, h.vocab_size);
  backend_.reserve_attention(decoder_input.batch, decoder_input.length, h.num_heads, h.d_kv, std::max(decoder_input.length, input.length));
  run_decoder(backend_, weights_, h, state.caches(), ids.data(), decoder_input.length, buckets(decoder_buckets_), act, hidden.view());
  lm_head(backend_, weights_, h, hidden.view(), logits.view());
  std::vector<float> out(static_cast<std::size_t>(rows * h.vocab_size));
  backend_.download(logits.data(), std::span<float>(out));
  return {{decoder_input.batch, decoder_input.length, h.vocab_size}, std::move(out)};
}

template <VariantLike V, Backend B>
Generation Model<V, B>::generate(const TokenBatch& input, const GenerationOptions& options) {
  require_decoder();
  options.validate(input.batch);
  const Hparams& h = hparams();
  const SpecialIds ids = special_ids(options, h);
  const DecoderLayout layout{input.batch, options.rows_per_input(), options.max_new_tokens, options.num_beams > 1};
  const std::int64_t rows = layout.rows();
  Encoded e = run_encoder_on(input);

  // Everything the loop touches is allocated here, before the first step.
  DecoderState<B> state = start_decoder_on(e, layout, std::vector<std::uint8_t>(static_cast<std::size_t>(rows * layout.capacity), 1));
  Activations<B> act(backend_, h, V::gated, rows);
  auto hidden = backend_.template allocate<Act>(rows, h.d_model);
  backend_.reserve_attention(rows, 1, h.num_heads, h.d_kv, std::max(options.max_new_tokens, input.length));
  const DecoderStep<B> step = [&](const std::int32_t* tokens, MatrixView<float, typename B::Space> logits) {
    run_decoder(backend_, weights_, h, state.caches(), tokens, 1, buckets(decoder_buckets_), act, hidden.view());
    lm_head(backend_, weights_, h, hidden.view(), logits);
  };
  return generate_tokens(backend_, state, options, ids, h.vocab_size, step);
}

template <VariantLike V, Backend B>
B Model<V, B>::make_backend(const LoadOptions& o) {
  if constexpr (std::is_same_v<typename B::Space, HostSpace>) return B(o.threads, cpu::matmul_precision(o.dtype.value_or(DType::F32)));
  else return B(o.cuda_device);
}

template <VariantLike V, Backend B>
Detected Model<V, B>::checked(const Checkpoint& ckpt) {
  const Detected& d = ckpt.detected();
  if (d.policies != V::policies)
    throw Error(ErrorCode::UnsupportedVariant, ckpt.weights().dir().string() + ": the checkpoint is " + describe(d.policies) +
                                                   ", but this Model type is " + describe(V::policies) +
                                                   " (use t5::load to select the variant at run time)");
  return d;
}

template <VariantLike V, Backend B>
void Model<V, B>::require_decoder() const {
  if (!has_decoder()) throw Error(ErrorCode::InvalidArgument, "this checkpoint holds only an encoder: logits and generation need a decoder");
}

template <VariantLike V, Backend B>
typename B::template Buffer<std::int32_t> Model<V, B>::upload_buckets(bool bidirectional) {
  const RelativeBuckets table(bidirectional, hparams().num_buckets, hparams().max_distance);
  return backend_.template upload<std::int32_t>(table.table(), 1, static_cast<std::int64_t>(table.table().size()));
}

template <VariantLike V, Backend B>
typename Model<V, B>::Encoded Model<V, B>::run_encoder_on(const TokenBatch& input) {
  const Hparams& h = hparams();
  input.validate("input", h.vocab_size);
  const std::int64_t rows = input.batch * input.length;
  Encoded e{backend_.template allocate<Act>(rows, h.d_model), input.mask_or_ones()};
  auto ids = backend_.template upload<std::int32_t>(input.ids, input.batch, input.length);
  auto mask = backend_.template upload<std::uint8_t>(e.mask, input.batch, input.length);
  const bool packed = !input.documents.empty();
  auto documents = backend_.template upload<std::int32_t>(input.documents, packed ? input.batch : 0, packed ? input.length : 0);
  Activations<B> act(backend_, h, V::gated, rows);
  backend_.reserve_attention(input.batch, input.length, h.num_heads, h.d_kv, input.length);
  const EncoderInput<B> in{input.batch, input.length, ids.data(), mask.data(), packed ? documents.data() : nullptr};
  run_encoder(backend_, weights_, h, in, buckets(encoder_buckets_), act, e.states.view());
  return e;
}

template <VariantLike V, Backend B>
DecoderState<B> Model<V, B>::start_decoder_on(const Encoded& e, const DecoderLayout& layout, std::span<const std::uint8_t> self_mask) {
  return start_decoder(backend_, weights_.decoder, hparams().inner_dim(), e.states.view(), layout, e.mask, self_mask);
}

template <VariantLike V, Backend B>
std::vector<float> Model<V, B>::to_host(const typename B::template Buffer<Act>& buffer) {
  std::vector<Act> values(static_cast<std::size_t>(buffer.rows() * buffer.cols()));
  backend_.download(buffer.data(), std::span<Act>(values));
  if constexpr (std::is_same_v<Act, float>) {
    return values;
  } else {
    std::vector<float> out(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = to_float(values[i]);
    return out;
  }
}

}  // namespace t5

#include "t5/model_instances.hpp"
