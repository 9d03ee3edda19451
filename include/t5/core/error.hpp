// t5::Error: the one exception type the library throws, with a machine-readable ErrorCode.
// Messages name the file, the tensor or key, what was expected and what was found, on one line.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace t5 {

enum class ErrorCode {
  InvalidConfig,       ///< config.json holds a bad value, or contradicts the weights
  ShapeMismatch,       ///< a tensor's rank or shape is not what the config implies
  UnsupportedVariant,  ///< a valid model that t5cc does not run (model_type, activation)
  Io,                  ///< a file is missing, unreadable or unwritable
  Format,              ///< a file is malformed (safetensors structure, JSON, missing/unknown tensors)
  Cuda,                ///< a CUDA runtime call failed
  Cublas,              ///< a cuBLAS / cuBLASLt call failed
  Tokenizer,           ///< SentencePiece model or tokenization failure
  InvalidArgument,     ///< an API caller passed a value outside the contract
  NonFinite,           ///< the model produced NaN or Inf (encoder states or logits) for an input
};

constexpr std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidConfig: return "InvalidConfig";
    case ErrorCode::ShapeMismatch: return "ShapeMismatch";
    case ErrorCode::UnsupportedVariant: return "UnsupportedVariant";
    case ErrorCode::Io: return "Io";
    case ErrorCode::Format: return "Format";
    case ErrorCode::Cuda: return "Cuda";
    case ErrorCode::Cublas: return "Cublas";
    case ErrorCode::Tokenizer: return "Tokenizer";
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::NonFinite: return "NonFinite";
  }
  return "Unknown";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace t5
