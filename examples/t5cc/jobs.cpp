// load_model(): the one place the tool instantiates t5::load (every model variant).
#include "jobs.hpp"

namespace t5cc {

LoadedModel load_model(const Args& args) {
  const std::string dir = args.require("model");
  const std::string device = args.get("device").value_or("cpu");
  if (device != "cpu" && device != "cuda") throw UsageError("option '--device' must be cpu or cuda, found '" + device + "'");
  if (device == "cuda") {
    if (!T5CC_HAVE_CUDA) throw t5::Error(t5::ErrorCode::Cuda, "--device cuda: this t5cc was built without CUDA");
    throw t5::Error(t5::ErrorCode::Cuda, "--device cuda: the GPU backend of the models is not part of this version yet; use --device cpu");
  }
  const auto threads = static_cast<int>(positive_option(args, "threads", 0));
  t5::Tokenizer tokenizer = t5::Tokenizer::from_model_dir(dir);
  return {t5::load(dir, {.threads = threads}), std::move(tokenizer)};
}

}  // namespace t5cc
