// Where a model's tokenizer is: the search the t5cc tool and the Python module share, so that
// both find the same one and name the same places when there is none.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "t5/config/hparams.hpp"
#include "t5/core/error.hpp"
#include "t5/io/detect.hpp"
#include "t5/tokenizer/tokenizer.hpp"

namespace t5 {

/// A tokenizer search's result: the tokenizer, or why there is none.
struct FoundTokenizer {
  std::optional<Tokenizer> tokenizer;
  std::string missing;  ///< where the search looked, when there is none

  /// The tokenizer; Error(Tokenizer) with `missing` and `hint` (what the caller can pass instead)
  /// when there is none.
  const Tokenizer& get(const std::string& hint) const {
    if (!tokenizer) throw Error(ErrorCode::Tokenizer, missing + " (" + hint + ")");
    return *tokenizer;
  }
};

/// The tokenizer of the checkpoint at `model` (a folder or one weights file) whose config is
/// `detected`: `explicit_path` when given (a spiece.model, a tokenizer.json, a GGUF file or a
/// folder); else, in order, a GGUF file's own, the weights' folder, and its diffusers sibling
/// (text_encoder_2/ -> tokenizer_2/, text_encoder/ -> tokenizer/, text_encoder_3/ -> tokenizer_3/).
/// A tokenizer that is found but broken throws; one that is missing is not an error here, as a
/// model can run on token ids.
inline FoundTokenizer find_tokenizer(const std::filesystem::path& model, const Detected& detected, const std::filesystem::path& explicit_path = {}) {
  namespace fs = std::filesystem;
  const bool folder = path_kind(model) == PathKind::Directory;
  const std::string config_source = folder ? (model / "config.json").string() : "the config of " + model.string();
  auto at = [&](const fs::path& p) { return Tokenizer::for_model(p, detected.model_type, detected.hparams, config_source); };
  if (!explicit_path.empty()) return {at(explicit_path), ""};

  const fs::path dir = folder ? model : model.parent_path().empty() ? fs::path(".") : model.parent_path();
  std::vector<fs::path> looked = {dir};
  const bool gguf = !folder && Tokenizer::is_gguf(model);
  if (gguf) looked.insert(looked.begin(), model);  // a GGUF file carries its own
  const fs::path absolute = fs::absolute(dir).lexically_normal();
  const std::string name = absolute.filename().string();
  const std::string sibling = name == "text_encoder" ? "tokenizer" : name == "text_encoder_2" ? "tokenizer_2" : name == "text_encoder_3" ? "tokenizer_3" : "";
  if (!sibling.empty()) looked.push_back(absolute.parent_path() / sibling);
  for (const auto& p : looked)
    if (Tokenizer::has_tokenizer(p)) return {at(p), ""};
  const std::size_t folders = gguf ? 1 : 0;
  return {std::nullopt, "no tokenizer: " + std::string(gguf ? model.string() + " carries none, and " : "") + "no spiece.model or tokenizer.json in " +
                            looked[folders].string() + (looked.size() > folders + 1 ? " or in " + looked[folders + 1].string() : "")};
}

}  // namespace t5
