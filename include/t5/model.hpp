// Model<V, B>: a model whose variant V is chosen at compile time, on backend B (the CPU reference by
// default; cuda::Backend with t5/cuda.hpp). It reads the pipeline in order: the encoder
// (model/encoder.hpp), the decoder (model/decoder.hpp), the generation loop (generation/).
// Header-only: naming Model<V, B> instantiates that variant alone. A program linked with libt5cc
// finds every dispatchable variant compiled there (t5/model_instances.hpp) and instantiates none.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <limits>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "t5/config/variant.hpp"
#include "t5/core/backend.hpp"
#include "t5/core/backend_pool.hpp"
#include "t5/core/batch.hpp"
#include "t5/cpu/backend.hpp"
#include "t5/generation/decoder_state.hpp"
#include "t5/generation/generate.hpp"
#include "t5/generation/options.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/load.hpp"
#include "t5/model/decoder.hpp"
#include "t5/model/encoder.hpp"
#include "t5/model/fp16_scales.hpp"
#include "t5/model/layers.hpp"
#include "t5/model/relative_position.hpp"
#include "t5/model/request_memory.hpp"
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
  Model(Model&&) = default;
  ~Model() override;

  const Detected& detected() const override { return detected_; }
  bool has_decoder() const override { return weights_.has_decoder(); }

  using AnyModel::encode;
  using AnyModel::logits;
  HostTensor encode(const TokenBatch& input, const LayerObserver& observer) override;
  HostTensor logits(const TokenBatch& input, const TokenBatch& decoder_input, const LayerObserver& observer) override;
  /// The f16 feed-forward scales in use (all 1 unless Act is f16 and LoadOptions found some).
  Fp16Scales fp16_scales() const;
  Generation generate(const TokenBatch& input, const GenerationOptions& options = {}) override;

 private:
  struct Encoded {
    typename B::template Buffer<Act> states;  // [batch * length, d_model]
    std::vector<std::uint8_t> mask;           // host [batch, length]
  };

  static std::unique_ptr<BackendPool<B>> make_backends(const LoadOptions& o);
  static Detected checked(const Checkpoint& ckpt);
  void require_decoder() const;
  typename B::template Buffer<std::int32_t> upload_buckets(bool bidirectional);
  PositionBiasArgs buckets(const typename B::template Buffer<std::int32_t>& table) const { return {nullptr, table.data(), (table.cols() - 1) / 2}; }
  void apply_fp16_scales(const Checkpoint& ckpt, const LoadOptions& options);
  // Each call runs on a backend leased for it (b below): the members are read, never written.
  Encoded run_encoder_on(B& b, const TokenBatch& input, const LayerObserver& observer) const;
  /// Caches for `layout` over the encoder output, with the decoder mask `self_mask` [rows, capacity].
  DecoderState<B> start_decoder_on(B& b, const Encoded& e, const DecoderLayout& layout, std::span<const std::uint8_t> self_mask) const;
  static std::vector<float> to_host(B& b, const typename B::template Buffer<Act>& buffer);
  /// Refuses, before anything is allocated, a call whose working memory (request_memory.hpp) plus
  /// the attention scratch for `attention` exceeds the backend's memory.
  void require_fits(const B& b, const std::string& what, Bytes need, const std::array<std::int64_t, 3>& attention) const;

  Detected detected_;
  std::unique_ptr<BackendPool<B>> backends_;
  ModelWeights<V, B> weights_;
  typename B::template Buffer<std::int32_t> encoder_buckets_;
  typename B::template Buffer<std::int32_t> decoder_buckets_;
};

// The members are defined out of the class, so they are not inline: where libt5cc's explicit
// instantiation is declared (model_instances.hpp), a program compiles none of them.

template <VariantLike V, Backend B>
Model<V, B> Model<V, B>::load(const std::filesystem::path& dir, const LoadOptions& options) {
  return Model(Checkpoint::open(dir, options.config), options);
}

template <VariantLike V, Backend B>
Model<V, B>::Model(const Checkpoint& ckpt, const LoadOptions& options)
    : detected_(checked(ckpt)),
      backends_(make_backends(options)),
      weights_(load_weights<V>(ckpt, backends_->first(), options.fold_norm_gains)),
      encoder_buckets_(upload_buckets(true)),
      decoder_buckets_(upload_buckets(false)) {
  apply_fp16_scales(ckpt, options);
}

template <VariantLike V, Backend B>
Model<V, B>::~Model() = default;

/// " (first in encoder layer 3's ffn.hidden ...)": where a forward pass `run` (given an observer)
/// first shows a NaN or Inf, found by running it again, observed: a failing call pays for it, no other.
template <class Act>
std::string first_nonfinite_sublayer(const std::function<void(const LayerObserver&)>& run) {
  std::string where;
  run([&](std::string_view name, std::int64_t layer, const Observed& v) {
    if (!where.empty() || first_nonfinite_row(v.values, static_cast<std::int64_t>(v.values.size())) < 0) return;
    where = std::string(name.substr(0, name.find('.'))) + (layer >= 0 ? " layer " + std::to_string(layer) + "'s " : "'s ") +
            std::string(name.substr(name.find('.') + 1));
  });
  if (where.empty()) return "";
  std::string hint;
  if constexpr (std::is_same_v<Act, f16>)
    hint = "; f16 holds values up to 65504: calibrate feed-forward scales with `t5cc calibrate` (LoadOptions::fp16_scales), or run bf16";
  return " (first non-finite in " + where + hint + ")";
}

template <VariantLike V, Backend B>
HostTensor Model<V, B>::encode(const TokenBatch& input, const LayerObserver& observer) {
  const Hparams& h = hparams();
  input.validate("input", h.vocab_size);
  const auto b = backends_->lease();
  require_fits(*b, "encode: " + std::to_string(input.batch) + " x " + std::to_string(input.length) + " tokens",
               encoder_bytes(h, V::gated, sizeof(Act), input.batch, input.length), {input.batch, input.length, input.length});
  Encoded e = run_encoder_on(*b, input, observer);
  HostTensor out{{input.batch, input.length, h.d_model}, to_host(*b, e.states)};
  if (const std::int64_t row = first_nonfinite_row(out.values, input.length * h.d_model); row >= 0)
    throw Error(ErrorCode::NonFinite, "encode: the encoder states of input row " + std::to_string(row) + " hold NaN or Inf" +
                                          first_nonfinite_sublayer<Act>([&](const LayerObserver& o) { run_encoder_on(*b, input, o); }));
  return out;
}

template <VariantLike V, Backend B>
HostTensor Model<V, B>::logits(const TokenBatch& input, const TokenBatch& decoder_input, const LayerObserver& observer) {
  require_decoder();
  const Hparams& h = hparams();
  decoder_input.validate("decoder input", h.vocab_size);
  if (!decoder_input.documents.empty()) throw Error(ErrorCode::InvalidArgument, "decoder input: packed documents are for the encoder only");
  if (decoder_input.batch != input.batch)
    throw Error(ErrorCode::InvalidArgument, "decoder input has " + std::to_string(decoder_input.batch) + " rows, the input " +
                                                std::to_string(input.batch));
  input.validate("input", h.vocab_size);
  const auto b = backends_->lease();
  Bytes need = encoder_bytes(h, V::gated, sizeof(Act), input.batch, input.length);
  need.add_bytes(decoder_bytes(h, V::gated, sizeof(Act), input.batch, input.length, decoder_input.batch * decoder_input.length,
                               decoder_input.length, false).total());
  require_fits(*b, "logits: " + std::to_string(input.batch) + " x " + std::to_string(decoder_input.length) + " decoder tokens", need,
               {decoder_input.batch, decoder_input.length, std::max(decoder_input.length, input.length)});
  const std::int64_t rows = decoder_input.batch * decoder_input.length;
  std::vector<float> out(static_cast<std::size_t>(rows * h.vocab_size));
  auto run = [&](const LayerObserver& o) {
    Encoded e = run_encoder_on(*b, input, o);
    DecoderState<B> state = start_decoder_on(*b, e, {input.batch, 1, decoder_input.length}, decoder_input.mask_or_ones());
    auto ids = b->template upload<std::int32_t>(decoder_input.ids, decoder_input.batch, decoder_input.length);
    Activations<B> act(*b, h, V::gated, rows);
    act.observer = &o;
    auto hidden = b->template allocate<Act>(rows, h.d_model);
    auto logits = b->template allocate<float>(rows, h.vocab_size);
    b->reserve_attention(decoder_input.batch, decoder_input.length, h.num_heads, h.d_kv, std::max(decoder_input.length, input.length));
    run_decoder(*b, weights_, h, state.caches(), ids.data(), decoder_input.length, buckets(decoder_buckets_), act, hidden.view());
    lm_head(*b, weights_, h, hidden.view(), logits.view());
    observe(*b, act, "decoder", "logits", -1, logits.view());
    b->download(logits.data(), std::span<float>(out));
  };
  run(observer);
  if (const std::int64_t row = first_nonfinite_row(out, decoder_input.length * h.vocab_size); row >= 0)
    throw Error(ErrorCode::NonFinite, "logits: the logits of input row " + std::to_string(row) + " hold NaN or Inf" + first_nonfinite_sublayer<Act>(run));
  return {{decoder_input.batch, decoder_input.length, h.vocab_size}, std::move(out)};
}

template <VariantLike V, Backend B>
Generation Model<V, B>::generate(const TokenBatch& input, const GenerationOptions& options) {
  require_decoder();
  options.validate(input.batch);
  const Hparams& h = hparams();
  const SpecialIds ids = special_ids(options, h);
  input.validate("input", h.vocab_size);
  const DecoderLayout layout{input.batch, options.rows_per_input(), options.max_new_tokens, options.num_beams > 1};
  const std::int64_t rows = checked_product(layout.inputs, layout.rows_per_input);  // -1 (saturating the count) on overflow
  const auto b = backends_->lease();
  Bytes need = encoder_bytes(h, V::gated, sizeof(Act), input.batch, input.length);
  need.add_bytes(decoder_bytes(h, V::gated, sizeof(Act), input.batch, input.length, rows, layout.capacity, layout.reorderable).total());
  require_fits(*b, "generate: " + std::to_string(input.batch) + " inputs x " + std::to_string(layout.rows_per_input) + " rows x " +
                       std::to_string(layout.capacity) + " new tokens",
               need, {rows, 1, std::max(options.max_new_tokens, input.length)});
  Encoded e = run_encoder_on(*b, input, LayerObserver{});

  // Everything the loop touches is allocated here, before the first step.
  DecoderState<B> state = start_decoder_on(*b, e, layout, std::vector<std::uint8_t>(static_cast<std::size_t>(rows * layout.capacity), 1));
  Activations<B> act(*b, h, V::gated, rows);
  auto hidden = b->template allocate<Act>(rows, h.d_model);
  b->reserve_attention(rows, 1, h.num_heads, h.d_kv, std::max(options.max_new_tokens, input.length));
  const DecoderStep<B> step = [&](const std::int32_t* tokens, MatrixView<float, typename B::Space> logits) {
    run_decoder(*b, weights_, h, state.caches(), tokens, 1, buckets(decoder_buckets_), act, hidden.view());
    lm_head(*b, weights_, h, hidden.view(), logits);
  };
  try {
    return generate_tokens(*b, state, options, ids, h.vocab_size, step);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::NonFinite) throw;
    // Where: the encoder, observed again; else one of the decoder's layers.
    std::string where = first_nonfinite_sublayer<Act>([&](const LayerObserver& o) { run_encoder_on(*b, input, o); });
    if (where.empty())
      where = std::is_same_v<Act, f16> ? " (the encoder is finite: a decoder layer overflowed f16's 65504; calibrate feed-forward scales with "
                                         "`t5cc calibrate` (LoadOptions::fp16_scales), or run bf16)"
                                       : " (the encoder is finite: a decoder layer produced it)";
    throw Error(ErrorCode::NonFinite, e.what() + where);
  }
}

template <VariantLike V, Backend B>
std::unique_ptr<BackendPool<B>> Model<V, B>::make_backends(const LoadOptions& o) {
  constexpr bool host = std::is_same_v<typename B::Space, HostSpace>;
  auto make = [o]() -> std::unique_ptr<B> {
    if constexpr (host) return std::make_unique<B>(o.threads, std::is_same_v<Act, float> ? cpu::matmul_precision(o.dtype.value_or(DType::F32)) : cpu::MatmulPrecision::F32);
    else return std::make_unique<B>(o.cuda_device);
  };
  // On a GPU the calls of one model take turns on one backend (one stream): streams running side
  // by side over shared weights have not been validated on a device yet.
  const std::size_t max_backends = host ? std::numeric_limits<std::size_t>::max() : 1;
  return std::make_unique<BackendPool<B>>(make(), make, max_backends);
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
void Model<V, B>::require_fits(const B& b, const std::string& what, Bytes need, const std::array<std::int64_t, 3>& attention) const {
  const Hparams& h = hparams();
  const auto [batch, q_len, kv_len] = attention;
  need.add_bytes(batch < 0 ? Bytes::saturated : b.attention_scratch_bytes(batch, q_len, h.num_heads, h.d_kv, kv_len));
  t5::require_fits(what, need.total(), b.memory_bytes(), std::is_same_v<typename B::Space, HostSpace> ? "this machine" : "the GPU");
}

template <VariantLike V, Backend B>
void Model<V, B>::require_decoder() const {
  if (!has_decoder()) throw Error(ErrorCode::InvalidArgument, "this checkpoint holds only an encoder: logits and generation need a decoder");
}

template <VariantLike V, Backend B>
typename B::template Buffer<std::int32_t> Model<V, B>::upload_buckets(bool bidirectional) {
  const RelativeBuckets table(bidirectional, hparams().num_buckets, hparams().max_distance);
  return backends_->first().template upload<std::int32_t>(table.table(), 1, static_cast<std::int64_t>(table.table().size()));
}

template <VariantLike V, Backend B>
void Model<V, B>::apply_fp16_scales(const Checkpoint& ckpt, const LoadOptions& options) {
  std::filesystem::path path = options.fp16_scales;
  if (path.empty()) {
    path = ckpt.weights().dir() / fp16_scales_file;
    if (!std::is_same_v<Act, f16> || !std::filesystem::is_regular_file(path)) return;
  } else if (!std::is_same_v<Act, f16>) {
    throw Error(ErrorCode::InvalidArgument, "fp16 scales (" + path.string() + ") are for an F16 model; this one runs " +
                                                std::string(dtype_name(dtype_of<Act>())));
  }
  const Fp16Scales s = read_fp16_scales(path, static_cast<std::int64_t>(weights_.encoder.size()), static_cast<std::int64_t>(weights_.decoder.size()));
  for (std::size_t l = 0; l < s.encoder.size(); ++l) weights_.encoder[l].ffn.scales = s.encoder[l];
  for (std::size_t l = 0; l < s.decoder.size(); ++l) weights_.decoder[l].ffn.scales = s.decoder[l];
}

template <VariantLike V, Backend B>
Fp16Scales Model<V, B>::fp16_scales() const {
  Fp16Scales s;
  for (const auto& l : weights_.encoder) s.encoder.push_back(l.ffn.scales);
  for (const auto& l : weights_.decoder) s.decoder.push_back(l.ffn.scales);
  return s;
}

template <VariantLike V, Backend B>
typename Model<V, B>::Encoded Model<V, B>::run_encoder_on(B& b, const TokenBatch& input, const LayerObserver& observer) const {
  const Hparams& h = hparams();
  const std::int64_t rows = input.batch * input.length;  // the caller validated the input
  Encoded e{b.template allocate<Act>(rows, h.d_model), input.mask_or_ones()};
  auto ids = b.template upload<std::int32_t>(input.ids, input.batch, input.length);
  auto mask = b.template upload<std::uint8_t>(e.mask, input.batch, input.length);
  const bool packed = !input.documents.empty();
  auto documents = b.template upload<std::int32_t>(input.documents, packed ? input.batch : 0, packed ? input.length : 0);
  Activations<B> act(b, h, V::gated, rows);
  act.observer = &observer;
  b.reserve_attention(input.batch, input.length, h.num_heads, h.d_kv, input.length);
  const EncoderInput<B> in{input.batch, input.length, ids.data(), mask.data(), packed ? documents.data() : nullptr};
  run_encoder(b, weights_, h, in, buckets(encoder_buckets_), act, e.states.view());
  return e;
}

template <VariantLike V, Backend B>
DecoderState<B> Model<V, B>::start_decoder_on(B& b, const Encoded& e, const DecoderLayout& layout,
                                              std::span<const std::uint8_t> self_mask) const {
  return start_decoder(b, weights_.decoder, hparams().inner_dim(), e.states.view(), layout, e.mask, self_mask);
}

template <VariantLike V, Backend B>
std::vector<float> Model<V, B>::to_host(B& b, const typename B::template Buffer<Act>& buffer) {
  std::vector<Act> values(static_cast<std::size_t>(buffer.rows() * buffer.cols()));
  b.download(buffer.data(), std::span<Act>(values));
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
