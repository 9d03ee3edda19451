// load_model(): the one place the tool instantiates t5::load (every model variant and backend).
#include "jobs.hpp"

namespace t5cc {

LoadedModel load_model(const Args& args) {
  const std::string dir = args.require("model");
  const std::string device = args.get("device").value_or("cpu");
  if (device != "cpu" && device != "cuda") throw UsageError("option '--device' must be cpu or cuda, found '" + device + "'");
  const auto dtype = args.get("dtype");
  if (dtype && device != "cuda") throw UsageError("option '--dtype' is for --device cuda (the CPU runs float32)");
  if (dtype && *dtype != "bf16" && *dtype != "f16") throw UsageError("option '--dtype' must be bf16 or f16, found '" + *dtype + "'");

  t5::LoadOptions options;
  options.threads = static_cast<int>(positive_option(args, "threads", 0));
  options.device = device == "cuda" ? t5::Device::Cuda : t5::Device::Cpu;
  options.dtype = dtype == "f16" ? t5::DType::F16 : t5::DType::BF16;
  t5::Tokenizer tokenizer = t5::Tokenizer::from_model_dir(dir);
  return {t5::load(dir, options), std::move(tokenizer)};
}

}  // namespace t5cc
