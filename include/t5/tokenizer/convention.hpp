// t5::EncodeConvention: how a pipeline that uses T5 as its text encoder turns prompts into encoder
// inputs (tokenizer mode, padded length, truncation, attention mask) and what it keeps of the
// states, with the presets of the diffusion pipelines users embed t5cc in.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "t5/core/batch.hpp"
#include "t5/core/error.hpp"
#include "t5/tokenizer/tokenizer.hpp"

namespace t5 {

struct EncodeConvention {
  TokenizerMode mode = TokenizerMode::SentencePiece;
  std::int64_t pad_to = 0;      ///< 0: the longest input
  bool truncate = false;        ///< cut inputs longer than pad_to (keeping the EOS)
  bool attend_padding = false;  ///< run the encoder without a mask: every position attends to the padding too
  bool zero_padding = false;    ///< set the states past each input's tokens to 0

  /// The presets, as each pipeline's reference code encodes a prompt (diffusers 0.35.2):
  ///  flux-dev      FluxPipeline._get_t5_prompt_embeds: T5TokenizerFast, padding="max_length",
  ///                max_sequence_length 512, truncation=True, text_encoder_2(ids) with no mask.
  ///  flux-schnell  the same code at max_sequence_length 256, the length FLUX.1-schnell is commonly
  ///                run with (FluxPipeline's own default, 512, is flux-dev).
  ///  sd3           StableDiffusion3Pipeline._get_t5_prompt_embeds: 256, truncation, no mask.
  ///  pixart-sigma  PixArtSigmaPipeline.encode_prompt: 300, truncation, text_encoder(ids,
  ///                attention_mask=mask); the mask is passed on to the transformer with the states.
  ///  wan           WanPipeline._get_t5_prompt_embeds (UMT5): 512 (its __call__ default), truncation,
  ///                the mask, then each prompt's states cut to its tokens and padded back with zeros.
  /// Text preprocessing stays the caller's: PixArt lowercases and strips the prompt
  /// (clean_caption=False; with True it runs its caption cleaner), Wan runs prompt_clean (ftfy,
  /// HTML unescaping, whitespace collapsed).
  static EncodeConvention preset(std::string_view name) {
    EncodeConvention c;
    c.mode = TokenizerMode::HuggingFace;
    c.truncate = true;
    if (name == "flux-dev" || name == "flux-schnell" || name == "sd3") {
      c.pad_to = name == "flux-dev" ? 512 : 256;
      c.attend_padding = true;
    } else if (name == "pixart-sigma") {
      c.pad_to = 300;
    } else if (name == "wan") {
      c.pad_to = 512;
      c.zero_padding = true;
    } else {
      std::string names;
      for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
      throw Error(ErrorCode::InvalidArgument, "no encode preset named " + quoted_text(name) + " (the presets: " + names + ")");
    }
    return c;
  }
  static const std::vector<std::string>& preset_names() {
    static const std::vector<std::string> names = {"flux-dev", "flux-schnell", "sd3", "pixart-sigma", "wan"};
    return names;
  }

  BatchOptions batch_options() const {
    BatchOptions b;
    b.encode.mode = mode;
    b.pad_to = pad_to;
    b.truncate = truncate;
    return b;
  }

  /// What the encoder runs on: `tokens` as they are, or with every position unmasked.
  TokenBatch encoder_input(TokenBatch tokens) const {
    if (attend_padding) std::fill(tokens.mask.begin(), tokens.mask.end(), std::uint8_t{1});
    return tokens;
  }

  /// Applies zero_padding to `states` [rows, tokens.length, d_model], the states of rows
  /// [first, first + rows) of `tokens` (whose mask tells each input's own positions).
  void finish(std::span<float> states, const TokenBatch& tokens, std::int64_t first, std::int64_t d_model) const {
    if (!zero_padding) return;
    const auto positions = static_cast<std::int64_t>(states.size()) / d_model;
    for (std::int64_t p = 0; p < positions; ++p)
      if (tokens.mask[static_cast<std::size_t>(first * tokens.length + p)] == 0) std::fill_n(states.begin() + p * d_model, d_model, 0.0f);
  }
};

}  // namespace t5
