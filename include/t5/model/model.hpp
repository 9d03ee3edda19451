// The model API: Model<V, Backend> for a variant chosen at compile time, AnyModel and t5::load()
// for one chosen at run time from the checkpoint. Inputs and outputs are host data (batch.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "t5/build_config.hpp"
#include "t5/config/detect.hpp"
#include "t5/cpu/backend.hpp"
#include "t5/generation/options.hpp"
#include "t5/generation/search.hpp"
#include "t5/model/batch.hpp"
#include "t5/model/checkpoint.hpp"
#include "t5/model/decoder.hpp"
#include "t5/model/encoder.hpp"
#include "t5/model/relative_position.hpp"
#include "t5/model/weights.hpp"
#if T5CC_HAVE_CUDA
#include "t5/cuda/backend.hpp"
#endif

namespace t5 {

enum class Device : std::uint8_t { Cpu, Cuda };

struct LoadOptions {
  Device device = Device::Cpu;  ///< where t5::load runs the model (a Model<V, B> names its backend instead)
  int threads = 0;              ///< CPU threads; 0 = OpenMP's default (OMP_NUM_THREADS or the core count)
  int cuda_device = 0;          ///< the GPU's ordinal, for Device::Cuda
  DType dtype = DType::BF16;    ///< GPU activation and weight dtype, BF16 or F16 (the CPU runs float32)
};

/// Whether this build of t5cc has the CUDA backend.
constexpr bool have_cuda() noexcept { return T5CC_HAVE_CUDA != 0; }

/// A loaded model whose variant is known at run time (t5::load). Every call validates its input
/// and throws t5::Error(InvalidArgument) naming the problem. Calls on one model share its backend's
/// scratch: run them one at a time (load one model per thread for concurrency).
class AnyModel {
 public:
  virtual ~AnyModel() = default;
  virtual const Detected& detected() const = 0;
  const Hparams& hparams() const { return detected().hparams; }
  /// False for an encoder-only checkpoint (the text encoders of diffusion pipelines).
  virtual bool has_decoder() const = 0;

  /// The encoder's last hidden state, [batch, length, d_model] float32, every position included.
  virtual HostTensor encode(const TokenBatch& input) = 0;
  /// Teacher-forced logits [batch, decoder length, vocab] for the decoder ids (which start with
  /// the decoder start token); the decoder mask pads them, the encoder mask pads cross-attention.
  virtual HostTensor logits(const TokenBatch& input, const TokenBatch& decoder_input) = 0;
  /// Generates from the decoder start token as transformers.generate does (generation/options.hpp):
  /// greedy, sampling or beam search over a batch of inputs of any lengths; each input finishes on its
  /// own and its result does not depend on the other rows. The caches are allocated once per call.
  virtual Generation generate(const TokenBatch& input, const GenerationOptions& options = {}) = 0;
};

template <VariantLike V, Backend B = cpu::Backend<float>>
class Model final : public AnyModel {
 public:
  using Act = typename B::Act;

  /// Opens the checkpoint in `dir` and loads it; throws Error(UnsupportedVariant) if its variant
  /// is not V (the checkpoint is checked against the type, not trusted).
  static Model load(const std::filesystem::path& dir, const LoadOptions& options = {}) { return Model(Checkpoint::open(dir), options); }

  Model(const Checkpoint& ckpt, const LoadOptions& options)
      : detected_(checked(ckpt)),
        backend_(make_backend(options)),
        weights_(load_weights<V>(ckpt, backend_)),
        encoder_buckets_(upload_buckets(true)),
        decoder_buckets_(upload_buckets(false)) {}

  const Detected& detected() const override { return detected_; }
  bool has_decoder() const override { return weights_.has_decoder(); }
  B& backend() { return backend_; }

  HostTensor encode(const TokenBatch& input) override {
    Encoded e = run_encoder_on(input);
    return {{input.batch, input.length, hparams().d_model}, to_host(e.states)};
  }

  HostTensor logits(const TokenBatch& input, const TokenBatch& decoder_input) override {
    require_decoder();
    decoder_input.validate("decoder input", hparams().vocab_size);
    if (!decoder_input.documents.empty()) throw Error(ErrorCode::InvalidArgument, "decoder input: packed documents are for the encoder only");
    if (decoder_input.batch != input.batch)
      throw Error(ErrorCode::InvalidArgument, "decoder input has " + std::to_string(decoder_input.batch) + " rows, the input " +
                                                  std::to_string(input.batch));
    Encoded e = run_encoder_on(input);
    const std::int64_t rows = decoder_input.batch * decoder_input.length;
    DecoderState<B> state = start_decoder(backend_, weights_, hparams(), e.states.view(), {input.batch, 1, decoder_input.length}, e.mask,
                                          decoder_input.mask_or_ones());
    auto ids = backend_.template upload<std::int32_t>(decoder_input.ids, decoder_input.batch, decoder_input.length);
    Activations<B> act(backend_, hparams(), V::gated, rows);
    auto hidden = backend_.template allocate<Act>(rows, hparams().d_model);
    auto logits = backend_.template allocate<float>(rows, hparams().vocab_size);
    backend_.reserve_attention(decoder_input.batch, decoder_input.length, hparams().num_heads, hparams().d_kv, std::max(decoder_input.length, input.length));
    run_decoder(backend_, weights_, hparams(), state, ids.data(), decoder_input.length, decoder_buckets(), act, hidden.view());
    lm_head(backend_, weights_, hparams(), hidden.view(), logits.view());
    std::vector<float> out(static_cast<std::size_t>(rows * hparams().vocab_size));
    backend_.download(logits.data(), std::span<float>(out));
    return {{decoder_input.batch, decoder_input.length, hparams().vocab_size}, std::move(out)};
  }

  Generation generate(const TokenBatch& input, const GenerationOptions& options = {}) override {
    require_decoder();
    options.validate();
    const Hparams& h = hparams();
    const SpecialIds ids = special_ids(options);
    if (!options.row_keys.empty() && static_cast<std::int64_t>(options.row_keys.size()) != input.batch)
      throw Error(ErrorCode::InvalidArgument, "generate: " + std::to_string(options.row_keys.size()) + " row_keys for " +
                                                  std::to_string(input.batch) + " inputs");
    const DecoderLayout layout{input.batch, options.rows_per_input(), options.max_new_tokens, options.num_beams > 1};
    const std::int64_t rows = layout.rows(), vocab = h.vocab_size;
    Encoded e = run_encoder_on(input);

    // Everything the loop touches is allocated here, before the first step.
    DecoderState<B> state =
        start_decoder(backend_, weights_, h, e.states.view(), layout, e.mask, std::vector<std::uint8_t>(static_cast<std::size_t>(rows * layout.capacity), 1));
    Activations<B> act(backend_, h, V::gated, rows);
    auto hidden = backend_.template allocate<Act>(rows, h.d_model);
    auto logits = backend_.template allocate<float>(rows, vocab);
    auto next = backend_.template allocate<std::int32_t>(rows, 1);
    const std::unique_ptr<Search> search = make_search(options, ids, input.batch, vocab);
    const StepInput step_input = search->step_input();
    const bool host_logits_needed = step_input == StepInput::HostLogits || static_cast<bool>(options.on_logits);
    std::vector<float> host_logits(host_logits_needed ? static_cast<std::size_t>(rows * vocab) : 0);
    std::vector<std::int32_t> chosen(step_input == StepInput::HostLogits ? 0 : static_cast<std::size_t>(rows));
    std::vector<std::uint64_t> keys;
    for (std::int64_t i = 0; i < input.batch; ++i) keys.push_back(options.row_key(i));
    const auto row_keys = backend_.template upload<std::uint64_t>(keys, input.batch, 1);
    backend_.reserve_attention(rows, 1, h.num_heads, h.d_kv, std::max(options.max_new_tokens, input.length));

    Generation out;
    out.per_input = options.num_return_sequences;
    out.cache_bytes = state.cache_bytes();
    for (bool done = false; !done && out.steps < options.max_new_tokens; ++out.steps) {
      backend_.upload_into(search->tokens(), next.data());
      run_decoder(backend_, weights_, h, state, next.data(), 1, decoder_buckets(), act, hidden.view());
      lm_head(backend_, weights_, h, hidden.view(), logits.view());
      if (host_logits_needed) backend_.download(logits.data(), std::span<float>(host_logits));
      if (options.on_logits) options.on_logits(out.steps, host_logits);
      if (step_input == StepInput::HostLogits) {
        done = search->step(host_logits);
      } else {
        if (step_input == StepInput::Sample) {
          SampleArgs draw = search->sample_args();
          draw.row_keys = row_keys.data();
          backend_.sample(logits.view(), draw, next.data());
        } else {
          backend_.argmax(logits.view(), next.data());
        }
        backend_.download(next.data(), std::span<std::int32_t>(chosen));
        if (std::any_of(chosen.begin(), chosen.end(), [](std::int32_t t) { return t < 0; }))
          throw Error(ErrorCode::InvalidArgument, "generate: every token was excluded at a sampling step");
        done = search->step_tokens(chosen);
      }
      if (!search->parents().empty()) reorder_cache(backend_, state, search->parents());
    }
    out.sequences = search->finish();
    return out;
  }

 private:
  struct Encoded {
    typename B::template Buffer<Act> states;  // [batch * length, d_model]
    std::vector<std::uint8_t> mask;           // host [batch, length]
  };

  static B make_backend(const LoadOptions& o) {
    if constexpr (std::is_same_v<typename B::Space, HostSpace>) return B(o.threads);
    else return B(o.cuda_device);
  }

  static Detected checked(const Checkpoint& ckpt) {
    const Detected& d = ckpt.detected();
    if (d.policies != V::policies) {
      auto describe = [](const Policies& p) {
        return std::string(to_string(p.ffn)) + ", gelu " + std::string(to_string(p.gelu)) + ", position bias " +
               std::string(to_string(p.position_bias)) + ", attention scale " + std::string(to_string(p.attn_scale)) + ", lm_head " +
               std::string(to_string(p.lm_head));
      };
      throw Error(ErrorCode::UnsupportedVariant, ckpt.weights().dir().string() + ": the checkpoint is " + describe(d.policies) +
                                                     ", but this Model type is " + describe(V::policies) +
                                                     " (use t5::load to select the variant at run time)");
    }
    return d;
  }

  SpecialIds special_ids(const GenerationOptions& o) const {
    const Hparams& h = hparams();
    SpecialIds ids{o.decoder_start_id.value_or(static_cast<std::int32_t>(h.decoder_start_id)), static_cast<std::int32_t>(h.pad_id), o.eos_ids};
    if (ids.eos.empty()) ids.eos.push_back(static_cast<std::int32_t>(h.eos_id));
    for (std::int32_t id : ids.eos)
      if (id < 0 || id >= h.vocab_size) throw Error(ErrorCode::InvalidArgument, "generate: EOS id " + std::to_string(id) + " is outside the vocabulary");
    if (ids.decoder_start < 0 || ids.decoder_start >= h.vocab_size)
      throw Error(ErrorCode::InvalidArgument, "generate: decoder start id " + std::to_string(ids.decoder_start) + " is outside the vocabulary");
    return ids;
  }

  void require_decoder() const {
    if (!has_decoder())
      throw Error(ErrorCode::InvalidArgument, "this checkpoint holds only an encoder: logits and generation need a decoder");
  }

  typename B::template Buffer<std::int32_t> upload_buckets(bool bidirectional) {
    const RelativeBuckets table(bidirectional, hparams().num_buckets, hparams().max_distance);
    return backend_.template upload<std::int32_t>(table.table(), 1, static_cast<std::int64_t>(table.table().size()));
  }
  PositionBiasArgs encoder_buckets() const { return {nullptr, encoder_buckets_.data(), (encoder_buckets_.cols() - 1) / 2}; }
  PositionBiasArgs decoder_buckets() const { return {nullptr, decoder_buckets_.data(), (decoder_buckets_.cols() - 1) / 2}; }

  Encoded run_encoder_on(const TokenBatch& input) {
    input.validate("input", hparams().vocab_size);
    const std::int64_t rows = input.batch * input.length;
    Encoded e{backend_.template allocate<Act>(rows, hparams().d_model), input.mask_or_ones()};
    auto ids = backend_.template upload<std::int32_t>(input.ids, input.batch, input.length);
    auto mask = backend_.template upload<std::uint8_t>(e.mask, input.batch, input.length);
    auto documents = backend_.template upload<std::int32_t>(input.documents, input.documents.empty() ? 0 : input.batch,
                                                            input.documents.empty() ? 0 : input.length);
    Activations<B> act(backend_, hparams(), V::gated, rows);
    backend_.reserve_attention(input.batch, input.length, hparams().num_heads, hparams().d_kv, input.length);
    const EncoderInput<B> in{input.batch, input.length, ids.data(), mask.data(), input.documents.empty() ? nullptr : documents.data()};
    run_encoder(backend_, weights_, hparams(), in, encoder_buckets(), act, e.states.view());
    return e;
  }

  std::vector<float> to_host(const typename B::template Buffer<Act>& buffer) {
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

  Detected detected_;
  B backend_;
  ModelWeights<V, B> weights_;
  typename B::template Buffer<std::int32_t> encoder_buckets_;
  typename B::template Buffer<std::int32_t> decoder_buckets_;
};

/// Opens the checkpoint in `dir`, detects its variant and loads it as the matching Model<V, B>: on
/// the CPU in float32, or on a GPU in options.dtype (BF16 or F16; Error(InvalidArgument) otherwise,
/// and for Device::Cuda in a build without CUDA).
inline std::unique_ptr<AnyModel> load(const std::filesystem::path& dir, const LoadOptions& options = {}) {
  if (options.device == Device::Cuda && !have_cuda())
    throw Error(ErrorCode::InvalidArgument, "Device::Cuda: this t5cc was built without CUDA (rebuild with nvcc on PATH and -Dcuda=enabled)");
  if (options.device == Device::Cuda && options.dtype != DType::BF16 && options.dtype != DType::F16)
    throw Error(ErrorCode::InvalidArgument, "the CUDA backend runs in BF16 or F16, not " + std::string(dtype_name(options.dtype)));
  const Checkpoint ckpt = Checkpoint::open(dir);
  return dispatch(ckpt.detected().policies, [&]<VariantLike V>() -> std::unique_ptr<AnyModel> {
#if T5CC_HAVE_CUDA
    if (options.device == Device::Cuda) {
      if (options.dtype == DType::F16) return std::make_unique<Model<V, cuda::Backend<f16>>>(ckpt, options);
      return std::make_unique<Model<V, cuda::Backend<bf16>>>(ckpt, options);
    }
#endif
    return std::make_unique<Model<V>>(ckpt, options);
  });
}

}  // namespace t5
