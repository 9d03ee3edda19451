// t5cc._core, the Python module (nanobind) over libt5cc: t5::load, encode, generate, the tokenizer
// and inspect. Every rule (tokenizer search, padding, presets, option checks) is the library's, so
// the module and the t5cc tool behave alike; this file only converts. The GIL is released while
// the library works, so Python threads can run models at once (a model takes concurrent calls).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "t5/core/policies.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/load.hpp"
#include "t5/tokenizer/convention.hpp"
#include "t5/tokenizer/find.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

[[noreturn]] void invalid(const std::string& message) { throw t5::Error(t5::ErrorCode::InvalidArgument, message); }

/// A vector handed to numpy without a copy: the array owns it through a capsule.
template <class T>
nb::ndarray<nb::numpy, T> to_numpy(std::vector<T> values, std::initializer_list<std::size_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owned->data(), shape, owner);
}

t5::TokenizerMode parse_mode(const std::string& mode) {
  if (mode == "sp") return t5::TokenizerMode::SentencePiece;
  if (mode == "hf") return t5::TokenizerMode::HuggingFace;
  invalid("mode must be \"sp\" (SentencePiece) or \"hf\" (as HF tokenizers), found \"" + mode + "\"");
}

/// What a call was given: texts, or rows of token ids (taken as given, no EOS added).
struct Inputs {
  std::vector<std::string> texts;
  std::vector<std::vector<std::int32_t>> rows;
  bool ids = false;
  std::int64_t count() const { return static_cast<std::int64_t>(ids ? rows.size() : texts.size()); }
};

std::int32_t token_id(std::int64_t v, std::size_t input) {
  if (v < 0 || v > std::numeric_limits<std::int32_t>::max())
    invalid("input " + std::to_string(input + 1) + ": token id " + std::to_string(v) + " is outside the int32 ids of a vocabulary");
  return static_cast<std::int32_t>(v);
}

/// A 2-D array of integers (of bools too, with `bools`) as int64: a float array is a TypeError,
/// not values cut to integers.
nb::ndarray<const std::int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu> integer_array(nb::handle h, const char* what, bool bools) {
  nb::ndarray<nb::ro, nb::device::cpu> any;
  if (!nb::try_cast(h, any, /*convert=*/false) || any.ndim() != 2)
    throw nb::type_error((std::string(what) + " must be a 2-D array on the CPU").c_str());
  const auto code = static_cast<nb::dlpack::dtype_code>(any.dtype().code);
  const bool integer = code == nb::dlpack::dtype_code::Int || code == nb::dlpack::dtype_code::UInt || (bools && code == nb::dlpack::dtype_code::Bool);
  if (!integer) throw nb::type_error((std::string(what) + " must hold integers" + (bools ? " or bools" : "")).c_str());
  nb::ndarray<const std::int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu> a;
  if (!nb::try_cast(h, a, /*convert=*/true)) throw nb::type_error((std::string(what) + ": cannot read it as int64").c_str());
  return a;
}

/// inputs: a str, a sequence of str, a sequence of sequences of int, or a 2-D integer array.
Inputs read_inputs(nb::handle inputs) {
  Inputs in;
  if (nb::isinstance<nb::str>(inputs)) {
    in.texts.push_back(nb::cast<std::string>(inputs));
    return in;
  }
  if (nb::hasattr(inputs, "__array_interface__") || nb::hasattr(inputs, "__dlpack__")) {
    const auto a = integer_array(inputs, "an array of token ids", false);
    in.ids = true;
    for (std::size_t r = 0; r < a.shape(0); ++r) {
      auto& row = in.rows.emplace_back();
      for (std::size_t c = 0; c < a.shape(1); ++c) row.push_back(token_id(a(r, c), r));
    }
  } else if (nb::isinstance<nb::sequence>(inputs)) {
    const auto seq = nb::borrow<nb::sequence>(inputs);
    const std::size_t n = nb::len(seq);
    for (std::size_t i = 0; i < n; ++i) {
      nb::object item = seq[i];
      const bool text = nb::isinstance<nb::str>(item);
      if (i == 0) in.ids = !text;
      if (text == in.ids) throw nb::type_error(("inputs mix texts and token ids (input " + std::to_string(i + 1) + ")").c_str());
      if (text) {
        in.texts.push_back(nb::cast<std::string>(item));
        continue;
      }
      std::vector<std::int64_t> values;
      if (!nb::try_cast(item, values))
        throw nb::type_error(("input " + std::to_string(i + 1) + " is neither a str nor a sequence of int token ids").c_str());
      auto& row = in.rows.emplace_back();
      for (const auto v : values) row.push_back(token_id(v, i));
      if (row.empty()) invalid("input " + std::to_string(i + 1) + " holds no token ids");
    }
  } else {
    throw nb::type_error("inputs must be a str, a list of str, a list of lists of token ids or a 2-D array of token ids");
  }
  if (in.count() == 0) invalid("no inputs");
  return in;
}

class Model {
 public:
  Model(const std::filesystem::path& path, const std::string& device, const std::optional<std::string>& dtype, int threads,
        const std::optional<std::filesystem::path>& tokenizer, const std::optional<std::filesystem::path>& config, bool fold_norm_gains,
        const std::optional<std::filesystem::path>& fp16_scales) {
    t5::LoadOptions o;
    if (device == "cpu") {
      o.device = t5::Device::Cpu;
    } else if (device == "cuda" || device.starts_with("cuda:")) {
      o.device = t5::Device::Cuda;
      if (device.size() > 5) {
        const std::string n = device.substr(5);
        if (n.empty() || n.size() > 3 || !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
          invalid("device \"" + device + "\": expected cuda:N with N a GPU ordinal");
        o.cuda_device = std::stoi(n);
      }
    } else {
      invalid("device must be \"cpu\", \"cuda\" or \"cuda:N\", found \"" + device + "\"");
    }
    if (threads < 0 || threads > 1024) invalid("threads must be in [0, 1024] (0: every core), found " + std::to_string(threads));
    o.threads = threads;
    if (dtype) {
      const std::string& d = *dtype;
      if (d == "float32" || d == "f32") o.dtype = t5::DType::F32;
      else if (d == "bfloat16" || d == "bf16") o.dtype = t5::DType::BF16;
      else if (d == "float16" || d == "f16") o.dtype = t5::DType::F16;
      else if (d == "int8") o.dtype = t5::DType::I8;
      else invalid("dtype must be \"float32\", \"bfloat16\", \"float16\" or \"int8\", found \"" + d + "\"");
    }
    o.config = config.value_or(std::filesystem::path());
    o.fold_norm_gains = fold_norm_gains;
    o.fp16_scales = fp16_scales.value_or(std::filesystem::path());
    device_ = device;
    dtype_ = t5::dtype_name(o.resolved_dtype());
    nb::gil_scoped_release unlocked;
    model_ = t5::load(path, o);  // the weights first: their problems are reported before the tokenizer's
    tokenizer_ = t5::find_tokenizer(path, model_->detected(), tokenizer.value_or(std::filesystem::path()));
  }

  const t5::Tokenizer& tokenizer() const { return tokenizer_.get("pass tokenizer=PATH to t5cc.load: a spiece.model, a tokenizer.json or a folder holding them; or give token ids"); }
  const t5::AnyModel& model() const { return *model_; }
  const std::string& device() const { return device_; }
  const std::string& dtype() const { return dtype_; }

  struct Encoded {
    nb::ndarray<nb::numpy, float> states;              ///< [batch, length, d_model]
    nb::ndarray<nb::numpy, std::int32_t> input_ids;    ///< [batch, length], padded
    nb::ndarray<nb::numpy, std::uint8_t> tokens;       ///< [batch, length]: 1 = the input's own token
  };

  Encoded encode(
      nb::handle inputs, std::optional<std::int64_t> pad_to, std::optional<bool> truncate, nb::handle mask, const std::optional<std::string>& preset,
      const std::optional<std::string>& mode) {
    Inputs in = read_inputs(inputs);
    t5::EncodeConvention c;
    const bool mask_given = !mask.is_none();
    const bool mask_array = mask_given && !nb::isinstance<nb::bool_>(mask);
    if (preset) {
      for (const auto& [given, name] : {std::pair{pad_to.has_value(), "pad_to"}, {truncate.has_value(), "truncate"}, {mask_given, "mask"}, {mode.has_value(), "mode"}})
        if (given) invalid("preset \"" + *preset + "\" sets " + name + "; give one or the other");
      c = t5::EncodeConvention::preset(*preset);
    } else {
      if (pad_to && *pad_to <= 0) invalid("pad_to must be a positive number of tokens, found " + std::to_string(*pad_to));
      c.pad_to = pad_to.value_or(0);
      c.truncate = truncate.value_or(false);
      if (c.truncate && c.pad_to == 0) invalid("truncate needs pad_to");
      c.attend_padding = mask_given && !mask_array && !nb::cast<bool>(mask);
      c.mode = parse_mode(mode.value_or("sp"));
    }
    std::vector<std::uint8_t> attention;  // an explicit mask, [batch, length]
    if (mask_array) {
      if (!in.ids) invalid("a mask array goes with token ids; texts get theirs from the tokenizer");
      const auto a = integer_array(mask, "a mask array", true);
      if (c.pad_to != 0 || a.shape(0) != in.rows.size() || std::any_of(in.rows.begin(), in.rows.end(), [&](const auto& r) { return r.size() != a.shape(1); }))
        invalid("a mask array must have the shape of the token ids (equal-length rows, no pad_to)");
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (a.data()[i] != 0 && a.data()[i] != 1) invalid("mask values must be 0 or 1, found " + std::to_string(a.data()[i]));
        attention.push_back(static_cast<std::uint8_t>(a.data()[i]));
      }
    }
    nb::gil_scoped_release unlocked;
    t5::TokenBatch tokens = in.ids ? t5::pad_rows(std::move(in.rows), static_cast<std::int32_t>(model_->hparams().pad_id), c.batch_options(), "ids")
                                   : tokenizer().encode_batch(in.texts, c.batch_options());
    if (!attention.empty()) tokens.mask = attention;
    t5::HostTensor out = model_->encode(c.encoder_input(tokens));
    c.finish(out.values, tokens, 0, model_->hparams().d_model);
    const auto b = static_cast<std::size_t>(tokens.batch), l = static_cast<std::size_t>(tokens.length);
    return {to_numpy(std::move(out.values), {b, l, static_cast<std::size_t>(model_->hparams().d_model)}), to_numpy(std::move(tokens.ids), {b, l}),
            to_numpy(std::move(tokens.mask), {b, l})};
  }

  nb::list generate(nb::handle inputs, const std::string& output, const std::string& mode, t5::GenerationOptions options) {
    if (output != "text" && output != "ids") invalid("output must be \"text\" or \"ids\", found \"" + output + "\"");
    Inputs in = read_inputs(inputs);
    t5::BatchOptions batching;
    batching.encode.mode = parse_mode(mode);
    t5::Generation g;
    std::vector<std::string> texts;
    {
      nb::gil_scoped_release unlocked;
      if (output == "text") tokenizer();  // before the work: a missing tokenizer is known now
      const t5::TokenBatch tokens = in.ids ? t5::pad_rows(std::move(in.rows), static_cast<std::int32_t>(model_->hparams().pad_id), batching, "ids")
                                           : tokenizer().encode_batch(in.texts, batching);
      g = model_->generate(tokens, options);
      if (output == "text")
        for (const auto& s : g.sequences) texts.push_back(tokenizer().decode(s.tokens));
    }
    nb::list result;
    for (std::size_t i = 0; i < g.sequences.size(); ++i) {
      if (output == "text") result.append(nb::str(texts[i].data(), texts[i].size()));
      else result.append(nb::cast(g.sequences[i].tokens));
    }
    return result;
  }

 private:
  std::unique_ptr<t5::AnyModel> model_;
  t5::FoundTokenizer tokenizer_;
  std::string device_, dtype_;
};

nb::dict hparams_dict(const t5::Hparams& h) {
  nb::dict d;
  d["vocab_size"] = h.vocab_size;
  d["d_model"] = h.d_model;
  d["d_kv"] = h.d_kv;
  d["d_ff"] = h.d_ff;
  d["num_heads"] = h.num_heads;
  d["num_layers"] = h.num_layers;
  d["num_decoder_layers"] = h.num_decoder_layers;
  d["relative_attention_num_buckets"] = h.num_buckets;
  d["relative_attention_max_distance"] = h.max_distance;
  d["layer_norm_epsilon"] = h.eps;
  d["pad_token_id"] = h.pad_id;
  d["eos_token_id"] = h.eos_id;
  d["decoder_start_token_id"] = h.decoder_start_id;
  return d;
}

std::string variant_name(const t5::Detected& d) {
  const std::string_view preset = d.preset();
  return preset.empty() ? t5::describe(d.policies) : std::string(preset);
}

/// What `t5cc inspect` prints, as a dict.
nb::dict inspect(const std::filesystem::path& path, const std::optional<std::filesystem::path>& config) {
  std::optional<t5::Checkpoint> opened;
  {
    nb::gil_scoped_release unlocked;
    opened.emplace(t5::Checkpoint::open(path, config.value_or(std::filesystem::path())));
  }
  const t5::Checkpoint& ck = *opened;
  const t5::Detected& d = ck.detected();
  nb::dict out, policies;
  out["model_type"] = d.model_type;
  out["variant"] = variant_name(d);
  for (const auto& [name, value] : t5::policy_fields(d.policies)) policies[nb::str(name.data(), name.size())] = nb::str(value.data(), value.size());
  out["policies"] = policies;
  out["hparams"] = hparams_dict(d.hparams);
  out["encoder_only"] = d.encoder_only;
  out["inferred"] = nb::cast(ck.inferred());
  out["config"] = ck.config().source;
  out["weights"] = ck.weights().description();
  nb::list tensors;
  std::int64_t parameters = 0;
  std::uint64_t bytes = 0;
  for (const auto& row : ck.inventory()) {
    nb::dict t;
    t["name"] = row.name;
    t["dtype"] = row.ref->info->stored_as();
    t["shape"] = nb::cast(row.ref->info->shape);
    t["bytes"] = row.ref->info->nbytes();
    t["file"] = row.ref->file->path().filename().string();
    t["used"] = row.use != nullptr;
    tensors.append(t);
    bytes += row.ref->info->nbytes();
    if (row.use) parameters += row.ref->info->numel();
  }
  out["tensors"] = tensors;
  out["parameters"] = parameters;
  out["bytes"] = bytes;
  out["files"] = ck.weights().files().size();
  return out;
}

t5::EarlyStopping early_stopping_of(nb::handle v) {
  if (nb::isinstance<nb::bool_>(v)) return nb::cast<bool>(v) ? t5::EarlyStopping::True : t5::EarlyStopping::False;
  if (nb::isinstance<nb::str>(v) && nb::cast<std::string>(v) == "never") return t5::EarlyStopping::Never;
  invalid("early_stopping must be True, False or \"never\"");
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "t5cc's C++ core; use the t5cc package.";

  static nb::object error = nb::steal(PyErr_NewExceptionWithDoc(
      "t5cc.Error", "An error of the t5cc library: `code` names its kind (InvalidArgument, Io, Format, Tokenizer, NonFinite, ...), str() the message.",
      PyExc_Exception, nullptr));
  nb::setattr(error, "code", nb::str(""));
  m.attr("Error") = error;
  nb::register_exception_translator(
      [](const std::exception_ptr& p, void*) {
        try {
          std::rethrow_exception(p);
        } catch (const t5::Error& e) {
          nb::object exc = error(e.what());
          const std::string_view code = t5::to_string(e.code());
          nb::setattr(exc, "code", nb::str(code.data(), code.size()));
          PyErr_SetObject(error.ptr(), exc.ptr());
        }
      },
      nullptr);

  nb::class_<t5::Tokenizer>(m, "Tokenizer", "A T5 tokenizer: SentencePiece (mode \"sp\") or as HF tokenizers runs it (mode \"hf\").")
      .def("encode", [](const t5::Tokenizer& t, const std::string& text, const std::string& mode, bool add_eos) {
            return t.encode(text, {parse_mode(mode), add_eos}); }, "text"_a, "mode"_a = "sp", "add_eos"_a = true,
           "The token ids of `text`, EOS appended unless add_eos is False.")
      .def("pieces", [](const t5::Tokenizer& t, const std::string& text, const std::string& mode) {
            return t.pieces(text, {parse_mode(mode), true}); }, "text"_a, "mode"_a = "sp", "The pieces of `text`, EOS included.")
      .def("decode", [](const t5::Tokenizer& t, const std::vector<std::int32_t>& ids, bool skip_special) { return t.decode(ids, skip_special); },
           "ids"_a, "skip_special"_a = true, "The text of `ids`; skip_special leaves out pad, EOS, unk and the sentinels.")
      .def_prop_ro("pad_id", &t5::Tokenizer::pad_id)
      .def_prop_ro("eos_id", &t5::Tokenizer::eos_id)
      .def_prop_ro("unk_id", &t5::Tokenizer::unk_id)
      .def_prop_ro("vocab_size", &t5::Tokenizer::vocab_size, "Pieces plus sentinels.");

  nb::class_<Model>(m, "Model", "A loaded T5 checkpoint (t5cc.load).")
      .def_prop_ro("tokenizer", &Model::tokenizer, nb::rv_policy::reference_internal,
                   "The checkpoint's tokenizer; t5cc.Error (code Tokenizer) when none was found.")
      .def_prop_ro("hparams", [](const Model& self) { return hparams_dict(self.model().hparams()); }, "The sizes and special ids, as HF's T5Config names them.")
      .def_prop_ro("d_model", [](const Model& self) { return self.model().hparams().d_model; })
      .def_prop_ro("has_decoder", [](const Model& self) { return self.model().has_decoder(); }, "False for an encoder-only checkpoint.")
      .def_prop_ro("variant", [](const Model& self) { return variant_name(self.model().detected()); }, "v1_0, v1_1, umt5, or the policies.")
      .def_prop_ro("device", &Model::device)
      .def_prop_ro("dtype", &Model::dtype, "F32, BF16, F16 or I8.")
      .def("__repr__", [](const Model& self) {
        return "<t5cc.Model " + variant_name(self.model().detected()) + " d_model=" + std::to_string(self.model().hparams().d_model) + " on " +
               self.device() + " " + self.dtype() + ">"; })
      .def("encode_with_tokens",
           [](Model& self, nb::handle inputs, std::optional<std::int64_t> pad_to, std::optional<bool> truncate, nb::handle mask,
              const std::optional<std::string>& preset, const std::optional<std::string>& mode) {
             Model::Encoded e = self.encode(inputs, pad_to, truncate, mask, preset, mode);
             return std::make_tuple(e.states, e.input_ids, e.tokens);
           },
           "inputs"_a, nb::kw_only(), "pad_to"_a = nb::none(), "truncate"_a = nb::none(), "mask"_a = nb::none(), "preset"_a = nb::none(),
           "mode"_a = nb::none(),
           nb::sig("def encode_with_tokens(self, inputs: str | Sequence[str] | Sequence[Sequence[int]] | numpy.typing.ArrayLike, *, "
                   "pad_to: int | None = None, truncate: bool | None = None, mask: bool | numpy.typing.ArrayLike | None = None, "
                   "preset: str | None = None, mode: str | None = None) -> tuple[numpy.typing.NDArray[numpy.float32], "
                   "numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.uint8]]"),
           "encode(), with the token ids it ran on, int32 [batch, length] (padded), and each input's token mask, uint8\n"
           "[batch, length] (1 = the input's own token, 0 = padding, whatever `mask` said): the states, input_ids and\n"
           "attention_mask of `t5cc encode --out`.")
      .def("encode",
           [](Model& self, nb::handle inputs, std::optional<std::int64_t> pad_to, std::optional<bool> truncate, nb::handle mask,
              const std::optional<std::string>& preset, const std::optional<std::string>& mode) {
             return self.encode(inputs, pad_to, truncate, mask, preset, mode).states;
           },
           "inputs"_a, nb::kw_only(), "pad_to"_a = nb::none(), "truncate"_a = nb::none(), "mask"_a = nb::none(), "preset"_a = nb::none(),
           "mode"_a = nb::none(),
           nb::sig("def encode(self, inputs: str | Sequence[str] | Sequence[Sequence[int]] | numpy.typing.ArrayLike, *, "
                   "pad_to: int | None = None, truncate: bool | None = None, mask: bool | numpy.typing.ArrayLike | None = None, "
                   "preset: str | None = None, mode: str | None = None) -> numpy.typing.NDArray[numpy.float32]"),
           "The encoder's last hidden state, float32 [batch, length, d_model], owned by the array (no copy).\n\n"
           "inputs: a str or a list of str (tokenized with EOS), or token ids as a list of lists or a 2-D integer array (as given).\n"
           "Rows are right-padded with the pad id to the longest, or to pad_to; a longer row is an error unless truncate.\n"
           "mask: None or True, each input attends to its own tokens; False, to every position (Flux, SD3); or a 0/1 array\n"
           "[batch, length] for token ids. preset: flux-dev, flux-schnell, sd3, pixart-sigma or wan (sets mode, pad_to,\n"
           "truncate and mask as that pipeline encodes). mode: \"sp\" (SentencePiece, the default) or \"hf\" (HF tokenizers).")
      .def("generate",
           [](Model& self, nb::handle inputs, std::int64_t max_new_tokens, const std::string& output, const std::string& mode, std::int64_t min_new_tokens,
              std::int64_t num_beams, bool do_sample, float temperature, std::int64_t top_k, float top_p, std::uint64_t seed, float repetition_penalty,
              std::int64_t no_repeat_ngram_size, std::int64_t num_return_sequences, float length_penalty, nb::handle early_stopping) {
             t5::GenerationOptions o;
             o.max_new_tokens = max_new_tokens;
             o.min_new_tokens = min_new_tokens;
             o.num_beams = num_beams;
             o.do_sample = do_sample;
             o.temperature = temperature;
             o.top_k = top_k;
             o.top_p = top_p;
             o.seed = seed;
             o.repetition_penalty = repetition_penalty;
             o.no_repeat_ngram_size = no_repeat_ngram_size;
             o.num_return_sequences = num_return_sequences;
             o.length_penalty = length_penalty;
             o.early_stopping = early_stopping_of(early_stopping);
             return self.generate(inputs, output, mode, std::move(o));
           },
           "inputs"_a, nb::kw_only(), "max_new_tokens"_a = 64, "output"_a = "text", "mode"_a = "sp", "min_new_tokens"_a = 0, "num_beams"_a = 1,
           "do_sample"_a = false, "temperature"_a = 1.0f, "top_k"_a = 50, "top_p"_a = 1.0f, "seed"_a = 0, "repetition_penalty"_a = 1.0f,
           "no_repeat_ngram_size"_a = 0, "num_return_sequences"_a = 1, "length_penalty"_a = 1.0f, "early_stopping"_a = false,
           nb::sig("def generate(self, inputs: str | Sequence[str] | Sequence[Sequence[int]] | numpy.typing.ArrayLike, *, max_new_tokens: int = 64, "
                   "output: str = 'text', mode: str = 'sp', min_new_tokens: int = 0, num_beams: int = 1, do_sample: bool = False, "
                   "temperature: float = 1.0, top_k: int = 50, top_p: float = 1.0, seed: int = 0, repetition_penalty: float = 1.0, "
                   "no_repeat_ngram_size: int = 0, num_return_sequences: int = 1, length_penalty: float = 1.0, "
                   "early_stopping: bool | str = False) -> list[str] | list[list[int]]"),
           "Generates as transformers.generate does (greedy, sampling or beam search; the same options and defaults, except\n"
           "max_new_tokens). Returns one output per input and returned sequence, input-major: its text (special tokens left\n"
           "out), or with output=\"ids\" its token ids after the decoder start token, through EOS when it has one.");

  m.def("load", [](const std::filesystem::path& path, const std::string& device, const std::optional<std::string>& dtype, int threads,
                   const std::optional<std::filesystem::path>& tokenizer, const std::optional<std::filesystem::path>& config, bool fold_norm_gains,
                   const std::optional<std::filesystem::path>& fp16_scales) {
          return new Model(path, device, dtype, threads, tokenizer, config, fold_norm_gains, fp16_scales); },
        "path"_a, "device"_a = "cpu", "dtype"_a = nb::none(), "threads"_a = 0, nb::kw_only(), "tokenizer"_a = nb::none(), "config"_a = nb::none(),
        "fold_norm_gains"_a = false, "fp16_scales"_a = nb::none(),
        "Loads a T5, Flan-T5, mT5 or UMT5 checkpoint: a HuggingFace folder, or one weights file (safetensors, PyTorch .bin,\n"
        "GGUF). device: \"cpu\", \"cuda\" or \"cuda:N\". dtype: None (float32 on the CPU, bfloat16 on a GPU), \"float32\",\n"
        "\"bfloat16\", \"float16\" or \"int8\" (CPU). threads: CPU threads per call, 0 for every core. tokenizer: a\n"
        "spiece.model, tokenizer.json or folder; None looks beside the weights. config: a config.json to use.",
        nb::rv_policy::take_ownership);
  m.def("inspect", &inspect, "path"_a, "config"_a = nb::none(),
        "The checkpoint's detected variant, policies, hparams and tensor inventory, as `t5cc inspect` prints them.");
  m.def("version", [] { return std::string(t5::version()); }, "libt5cc's version.");
  m.def("have_cuda", &t5::have_cuda, "Whether this build runs models on NVIDIA GPUs.");
  m.def("cpu_kernels", &t5::cpu_kernels, "The CPU kernels this process runs (chosen from cpuid).");
}
