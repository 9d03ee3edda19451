// t5cc host API, one include: policies, variants and dispatch; Hparams and config.json; checkpoint
// reading, detection and validation; the safetensors reader and writer; Model<V, B> on the CPU
// reference backend (header-only) and t5::load (libt5cc); the tokenizer. The GPU's own API
// (devices, streams, launchers, cuBLASLt, cuda::Backend) is t5/cuda.hpp.
#pragma once

#include "t5/config/dispatch.hpp"
#include "t5/config/hf_config.hpp"
#include "t5/config/hparams.hpp"
#include "t5/config/variant.hpp"
#include "t5/core/batch.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/policies.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/detect.hpp"
#include "t5/io/hf_names.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/io/safetensors_writer.hpp"
#include "t5/io/weight_files.hpp"
#include "t5/load.hpp"
#include "t5/model.hpp"
#include "t5/tokenizer/tokenizer.hpp"
