// The run-time path, compiled once in libt5cc: AnyModel (a loaded model whose variant was read from
// the checkpoint), LoadOptions and t5::load(). Including this header instantiates no model; a
// program that calls t5::load links libt5cc (Meson: dependency('t5cc'); pkg-config: t5cc).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "t5/core/batch.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/observer.hpp"
#include "t5/generation/options.hpp"
#include "t5/io/detect.hpp"

namespace t5 {

enum class Device : std::uint8_t { Cpu, Cuda };

struct LoadOptions {
  Device device = Device::Cpu;  ///< where t5::load runs the model (a Model<V, B> names its backend instead)
  int threads = 0;              ///< CPU threads; 0 = OpenMP's default (OMP_NUM_THREADS or the core count)
  int cuda_device = 0;          ///< the GPU's ordinal, for Device::Cuda
  /// The products' dtype. CPU: F32 (the default), BF16 (bf16 weights and inputs, float32
  /// accumulation) or I8 (int8 weights with per-channel scales, inputs quantised per row); the
  /// activations and the residual stay float32. GPU: the activation and weight dtype, BF16 (the
  /// default) or F16, with the residual in float32.
  std::optional<DType> dtype = std::nullopt;
  /// The dtype a load runs: dtype when set, else F32 on the CPU and BF16 on a GPU.
  DType resolved_dtype() const { return dtype.value_or(device == Device::Cuda ? DType::BF16 : DType::F32); }
  /// A config.json to use: for a weights file that comes without one (its values then override
  /// those inferred from the shapes), or over a directory's own config.json, key by key. Empty: none.
  std::filesystem::path config = {};
  /// CPU with dtype BF16: store activations and weights in bf16 where cuda::Backend does
  /// (cpu::Backend<bf16>, float32 math) instead of running bf16 products over float32 activations.
  /// CPU with dtype F16 always does (cpu::Backend<f16>): the GPU's numbers, without a GPU.
  bool gpu_rounding = false;
  /// Fold each RMSNorm's gain into the projection that reads its output (W[o, i] *= gain[i], in
  /// float32, rounded once to the weight dtype): q|k|v and wi after the layer norms, and the
  /// cross-attention q (never k|v, which read the encoder output); the final norms keep theirs.
  bool fold_norm_gains = false;
  /// F16: the feed-forward scales (model/fp16_scales.hpp, written by `t5cc calibrate`). Empty: the
  /// checkpoint folder's t5cc.fp16_scales.json when there is one, else none (an overflow is then
  /// an Error(NonFinite) naming the layer).
  std::filesystem::path fp16_scales = {};
};

/// A loaded model whose variant is known at run time (t5::load). Every call validates its input
/// and throws t5::Error(InvalidArgument) naming the problem. Several threads may call one model at
/// once: the weights are shared and read only, and each call runs on scratch of its own (a backend
/// leased for the call, core/backend_pool.hpp), so each gets exactly its single-threaded result. On
/// a GPU the calls of one model take turns.
class AnyModel {
 public:
  virtual ~AnyModel() = default;
  virtual const Detected& detected() const = 0;
  const Hparams& hparams() const { return detected().hparams; }
  /// False for an encoder-only checkpoint (the text encoders of diffusion pipelines).
  virtual bool has_decoder() const = 0;

  /// The encoder's last hidden state, [batch, length, d_model] float32, every position included.
  /// A NaN or Inf in it is an Error(NonFinite) naming the first sublayer that produced one.
  HostTensor encode(const TokenBatch& input) { return encode(input, LayerObserver{}); }
  /// The same, showing each sublayer's output to `observer` on the way (core/observer.hpp).
  virtual HostTensor encode(const TokenBatch& input, const LayerObserver& observer) = 0;
  /// Teacher-forced logits [batch, decoder length, vocab] for the decoder ids (which start with
  /// the decoder start token); the decoder mask pads them, the encoder mask pads cross-attention.
  HostTensor logits(const TokenBatch& input, const TokenBatch& decoder_input) { return logits(input, decoder_input, LayerObserver{}); }
  /// The same, showing the encoder's and then the decoder's sublayer outputs to `observer`.
  virtual HostTensor logits(const TokenBatch& input, const TokenBatch& decoder_input, const LayerObserver& observer) = 0;
  /// Generates from the decoder start token as transformers.generate does (generation/options.hpp):
  /// greedy, sampling or beam search over a batch of inputs of any lengths; each input finishes on its
  /// own and its result does not depend on the other rows. The caches are allocated once per call.
  virtual Generation generate(const TokenBatch& input, const GenerationOptions& options = {}) = 0;
};

/// Whether this libt5cc was built with the CUDA backend.
bool have_cuda() noexcept;

/// This libt5cc's version, "MAJOR.MINOR.PATCH".
const char* version() noexcept;

/// The CPU kernels this process runs, chosen at run time from cpuid (T5CC_CPU_ISA and oneDNN's
/// ONEDNN_MAX_CPU_ISA cap them), e.g. "elementwise avx512, products oneDNN 2.6.3 (avx512_core_amx)".
std::string cpu_kernels();

/// Opens the checkpoint at `dir` (a directory, or one weights file: io/checkpoint.hpp), detects its variant and loads it as the matching Model<V, B>
/// (t5/model.hpp, instantiated in libt5cc for every variant dispatch() reaches), on the CPU or a
/// GPU in options.dtype (Error(InvalidArgument) for a dtype the device does not run, and for
/// Device::Cuda in a build without CUDA).
std::unique_ptr<AnyModel> load(const std::filesystem::path& dir, const LoadOptions& options = {});

}  // namespace t5
