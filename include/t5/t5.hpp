// t5cc host API, one include: policies and presets, Hparams, config.json and checkpoint reading,
// detection and dispatch, the safetensors reader and writer, the models (Model<V, B>, t5::load) on
// the CPU reference backend (and on cuda::Backend in a CUDA build), and the tokenizer.
// The GPU's own API (devices, streams, launchers, cuBLASLt) is t5/cuda.hpp.
#pragma once

#include "t5/build_config.hpp"
#include "t5/config/detect.hpp"
#include "t5/config/hf_config.hpp"
#include "t5/config/hparams.hpp"
#include "t5/config/policies.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/ops.hpp"
#include "t5/cpu/rms_norm.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/io/safetensors_writer.hpp"
#include "t5/io/weight_files.hpp"
#include "t5/model/checkpoint.hpp"
#include "t5/model/hf_names.hpp"
#include "t5/model/model.hpp"
#include "t5/tokenizer/tokenizer.hpp"
