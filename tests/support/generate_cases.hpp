// The generate.json goldens of tools/make_fixtures.py (transformers.generate on a ragged batch): the
// batch and each case's options, read the same way by the parity and the cuda suites.
#pragma once

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "t5/generation/options.hpp"
#include "t5/core/batch.hpp"

namespace t5::test {

inline nlohmann::json read_generate_goldens(const std::filesystem::path& path) {
  std::ifstream in(path);
  BOOST_TEST_REQUIRE(static_cast<bool>(in), path.string() << " is missing (tools/make_fixtures.py writes it)");
  return nlohmann::json::parse(in);
}

/// The goldens' input rows, right-padded.
inline TokenBatch generate_inputs(const nlohmann::json& goldens, std::int32_t pad_id) {
  std::vector<std::vector<std::int32_t>> rows;
  for (const auto& r : goldens.at("inputs")) rows.push_back(r.get<std::vector<std::int32_t>>());
  return TokenBatch::from_rows(rows, pad_id);
}

/// A case's "options" as GenerationOptions.
inline GenerationOptions generate_options(const nlohmann::json& o) {
  GenerationOptions options;
  options.max_new_tokens = o.at("max_new_tokens");
  options.min_new_tokens = o.at("min_new_tokens");
  options.num_beams = o.at("num_beams");
  options.length_penalty = o.at("length_penalty");
  const std::string early = o.at("early_stopping");
  options.early_stopping = early == "true" ? EarlyStopping::True : early == "never" ? EarlyStopping::Never : EarlyStopping::False;
  options.num_return_sequences = o.at("num_return_sequences");
  options.repetition_penalty = o.at("repetition_penalty");
  options.no_repeat_ngram_size = o.at("no_repeat_ngram_size");
  return options;
}

}  // namespace t5::test
