// A restricted unpickler for the data.pkl of torch.save: it executes nothing. It knows the opcodes
// torch.save's pickler emits (protocol 2; 3 to 5 for files written with a newer protocol) and an
// allow-list of globals, each interpreted here rather than imported: collections.OrderedDict
// (an empty dict), torch._utils._rebuild_tensor_v2 / _rebuild_parameter (a tensor record) and the
// storage types of float32, float16 and bfloat16 (in persistent ids). Any other global, opcode or
// shape of data is Error(Format) naming it. Values are small records; nesting is bounded so that
// neither building nor destroying them recurses deeply.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"

namespace t5::io::pickle {

struct Value;
using Ref = std::shared_ptr<Value>;

/// A storage named by a persistent id ('storage', <type>, key, location, numel).
struct Storage {
  DType dtype = DType::F32;
  std::string key;  ///< its file in the archive: data/<key>
  std::int64_t numel = 0;
};

/// _rebuild_tensor_v2(storage, storage_offset, size, stride, ...).
struct Tensor {
  std::shared_ptr<const Storage> storage;
  std::int64_t offset = 0;
  std::vector<std::int64_t> shape, stride;
};

struct Value {
  enum class Kind : std::uint8_t { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Storage, Tensor, Mark };
  Kind kind = Kind::None;
  std::int64_t integer = 0;  ///< Bool, Int
  double real = 0;
  std::string text;          ///< String, Bytes, Global ("module.name")
  std::vector<Ref> items;    ///< Tuple, List; Dict: key, value, key, value, ...
  std::shared_ptr<const Storage> storage;
  std::shared_ptr<const Tensor> tensor;
  int depth = 1;             ///< of the nesting below and including this value
  bool placed = false;       ///< held by a container: it gains no more items (so no cycle forms)
};

/// What a value is, for messages ("a string", "the global builtins.print").
inline std::string describe(const Value& v) {
  switch (v.kind) {
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return "a bool";
    case Value::Kind::Int: return "an int";
    case Value::Kind::Float: return "a float";
    case Value::Kind::String: return "a string";
    case Value::Kind::Bytes: return "bytes";
    case Value::Kind::Tuple: return "a tuple";
    case Value::Kind::List: return "a list";
    case Value::Kind::Dict: return "a dict";
    case Value::Kind::Global: return "the global " + quoted_text(v.text, name_chars);
    case Value::Kind::Storage: return "a storage";
    case Value::Kind::Tensor: return "a tensor";
    case Value::Kind::Mark: return "a mark";
  }
  return "?";
}

/// Deepest nesting of tuples, lists and dicts accepted (a state dict needs 4).
inline constexpr int max_depth = 64;

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> bytes, std::string source) : bytes_(bytes), source_(std::move(source)) {}

  /// Runs the pickle to its STOP; returns the value it leaves.
  Ref load() {
    while (true) {
      const std::size_t at = pos_;
      const auto op = static_cast<unsigned char>(byte());
      if (op == '.') break;  // STOP
      step(op, at);
    }
    if (stack_.size() != 1 || stack_.back()->kind == Value::Kind::Mark) fail(pos_ - 1, "STOP leaves " + std::to_string(stack_.size()) + " values, expected 1");
    return stack_.back();
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw Error(ErrorCode::Format, source_ + ": pickle byte " + std::to_string(at) + ": " + what);
  }

  std::byte byte() {
    if (pos_ >= bytes_.size()) fail(pos_, "ends before its STOP opcode (truncated?)");
    return bytes_[pos_++];
  }
  std::span<const std::byte> take(std::uint64_t n) {
    if (n > bytes_.size() - pos_) fail(pos_, "a " + std::to_string(n) + "-byte argument runs past the end");
    const auto s = bytes_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  std::uint64_t little(int n) {
    const auto s = take(static_cast<std::uint64_t>(n));
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(s[static_cast<std::size_t>(i)]);
    return v;
  }
  std::string text(std::uint64_t n) {
    const auto s = take(n);
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
  }
  std::string line(std::size_t at) {  // GLOBAL's module and name, each ended by '\n'
    std::string out;
    while (true) {
      const char c = std::to_integer<char>(byte());
      if (c == '\n') return out;
      if (out.size() >= 256) fail(at, "GLOBAL name longer than 256 bytes");
      out += c;
    }
  }

  static Ref make(Value::Kind kind) {
    auto v = std::make_shared<Value>();
    v->kind = kind;
    return v;
  }
  static Ref integer(std::int64_t i, Value::Kind kind = Value::Kind::Int) {
    auto v = make(kind);
    v->integer = i;
    return v;
  }
  static Ref string(std::string s, Value::Kind kind = Value::Kind::String) {
    auto v = make(kind);
    v->text = std::move(s);
    return v;
  }

  void push(Ref v) { stack_.push_back(std::move(v)); }
  Ref pop(std::size_t at) {
    if (stack_.empty() || (stack_.back()->kind == Value::Kind::Mark)) fail(at, "pops from an empty stack");
    Ref v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Ref& top(std::size_t at) {
    if (stack_.empty() || stack_.back()->kind == Value::Kind::Mark) fail(at, "reads an empty stack");
    return stack_.back();
  }
  /// The values above the topmost MARK, which is removed.
  std::vector<Ref> pop_to_mark(std::size_t at) {
    std::size_t m = stack_.size();
    while (m > 0 && stack_[m - 1]->kind != Value::Kind::Mark) --m;
    if (m == 0) fail(at, "no MARK on the stack");
    std::vector<Ref> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)), std::make_move_iterator(stack_.end()));
    stack_.resize(m - 1);
    return items;
  }

  /// Adds `child` below `parent`, keeping the nesting bounded and the values a tree of shared
  /// leaves: a container gains items only before it is placed in another (as a pickler writes
  /// them), so no reference cycle (a leak) can form.
  void adopt(std::size_t at, Value& parent, Ref child) {
    if (parent.placed || child.get() == &parent) fail(at, "adds to a container already placed in another");
    child->placed = true;
    if (child->depth + 1 > parent.depth) parent.depth = child->depth + 1;
    if (parent.depth > max_depth) fail(at, "values nested more than " + std::to_string(max_depth) + " deep");
    parent.items.push_back(std::move(child));
  }
  Ref sequence(std::size_t at, Value::Kind kind, std::vector<Ref> items) {
    Ref v = make(kind);
    for (auto& item : items) adopt(at, *v, std::move(item));
    return v;
  }
  Value& container(std::size_t at, Value::Kind kind, const char* op) {
    Ref& v = top(at);
    if (v->kind != kind) fail(at, std::string(op) + " on " + describe(*v));
    return *v;
  }
  void set_items(std::size_t at, Value& dict, std::vector<Ref> items) {
    if (items.size() % 2) fail(at, "SETITEMS with an odd number of values");
    for (auto& item : items) adopt(at, dict, std::move(item));
  }

  static const char* allowed(std::string_view global) {
    static constexpr const char* names[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
                                            "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage"};
    for (const char* n : names)
      if (global == n) return n;
    return nullptr;
  }
  Ref global(std::size_t at, const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (allowed(full) == nullptr)
      fail(at, "refuses the global " + quoted_text(full, name_chars) +
                   " (a PyTorch weights file needs only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and the "
                   "float32/float16/bfloat16 storage types; t5cc runs no code from a checkpoint)");
    return string(full, Value::Kind::Global);
  }

  std::vector<std::int64_t> int_tuple(std::size_t at, const Value& v, const char* what) {
    if (v.kind != Value::Kind::Tuple) fail(at, std::string(what) + " is " + describe(v) + ", expected a tuple of ints");
    std::vector<std::int64_t> out;
    for (const auto& item : v.items) {
      if (item->kind != Value::Kind::Int || item->integer < 0) fail(at, std::string(what) + " holds " + describe(*item) + ", expected non-negative ints");
      out.push_back(item->integer);
    }
    return out;
  }

  /// REDUCE: the callable (an allowed global) applied to a tuple of arguments.
  Ref reduce(std::size_t at, const Value& callable, const Value& args) {
    if (callable.kind != Value::Kind::Global) fail(at, "REDUCE calls " + describe(callable));
    if (args.kind != Value::Kind::Tuple) fail(at, "REDUCE arguments are " + describe(args));
    const auto& a = args.items;
    if (callable.text == "collections.OrderedDict") {
      if (!a.empty()) fail(at, "OrderedDict called with arguments");
      return make(Value::Kind::Dict);
    }
    if (callable.text == "torch._utils._rebuild_parameter") {  // (data, requires_grad, backward_hooks)
      if (a.size() < 1 || a[0]->kind != Value::Kind::Tensor) fail(at, "_rebuild_parameter of " + (a.empty() ? std::string("nothing") : describe(*a[0])));
      return a[0];
    }
    if (callable.text == "torch._utils._rebuild_tensor_v2") {  // (storage, offset, size, stride, requires_grad, hooks[, metadata])
      if (a.size() < 4 || a[0]->kind != Value::Kind::Storage || a[1]->kind != Value::Kind::Int || a[1]->integer < 0)
        fail(at, "_rebuild_tensor_v2 expects (storage, offset, size, stride, ...)");
      auto t = std::make_shared<Tensor>();
      t->storage = a[0]->storage;
      t->offset = a[1]->integer;
      t->shape = int_tuple(at, *a[2], "a tensor's size");
      t->stride = int_tuple(at, *a[3], "a tensor's stride");
      if (t->shape.size() != t->stride.size()) fail(at, "a tensor's size and stride differ in length");
      Ref v = make(Value::Kind::Tensor);
      v->tensor = std::move(t);
      return v;
    }
    fail(at, "REDUCE calls " + describe(callable) + ", which is not callable");
  }

  /// BINPERSID: ('storage', <storage type>, key, location, numel), one Storage per key.
  Ref persistent(std::size_t at, const Value& pid) {
    const auto& a = pid.items;
    if (pid.kind != Value::Kind::Tuple || a.size() != 5 || a[0]->kind != Value::Kind::String || a[0]->text != "storage" ||
        a[1]->kind != Value::Kind::Global || a[2]->kind != Value::Kind::String || a[4]->kind != Value::Kind::Int || a[4]->integer < 0)
      fail(at, "persistent id is not ('storage', type, key, location, numel)");
    DType dtype;
    if (a[1]->text == "torch.FloatStorage") dtype = DType::F32;
    else if (a[1]->text == "torch.HalfStorage") dtype = DType::F16;
    else if (a[1]->text == "torch.BFloat16Storage") dtype = DType::BF16;
    else fail(at, "persistent id names " + describe(*a[1]) + ", not a storage type");
    auto& s = storages_[a[2]->text];
    if (!s) s = std::make_shared<Storage>(Storage{dtype, a[2]->text, a[4]->integer});
    if (s->dtype != dtype || s->numel != a[4]->integer) fail(at, "storage " + quoted_text(a[2]->text) + " is described twice differently");
    Ref v = make(Value::Kind::Storage);
    v->storage = s;
    return v;
  }

  void memo_put(std::uint64_t index) {
    if (stack_.empty() || stack_.back()->kind == Value::Kind::Mark) fail(pos_, "memoizes an empty stack");
    memo_[index] = stack_.back();
  }
  void memo_get(std::size_t at, std::uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail(at, "reads memo " + std::to_string(index) + ", never written");
    push(it->second);
  }

  void step(unsigned char op, std::size_t at) {
    using K = Value::Kind;
    switch (op) {
      case 0x80: {  // PROTO
        const auto version = std::to_integer<int>(byte());
        if (version < 2 || version > 5) fail(at, "pickle protocol " + std::to_string(version) + " (torch.save writes 2)");
        break;
      }
      case 0x95: (void)little(8); break;  // FRAME: a length hint
      case '(': push(make(K::Mark)); break;
      case '0': (void)pop(at); break;  // POP
      case '1': (void)pop_to_mark(at); break;  // POP_MARK
      case '2': push(top(at)); break;  // DUP
      case 'N': push(make(K::None)); break;
      case 0x88: push(integer(1, K::Bool)); break;
      case 0x89: push(integer(0, K::Bool)); break;
      case 'K': push(integer(static_cast<std::int64_t>(little(1)))); break;  // BININT1
      case 'M': push(integer(static_cast<std::int64_t>(little(2)))); break;  // BININT2
      case 'J': push(integer(static_cast<std::int32_t>(static_cast<std::uint32_t>(little(4))))); break;  // BININT
      case 0x8a: {  // LONG1: n bytes, little-endian two's complement
        const auto n = static_cast<int>(little(1));
        if (n > 8) fail(at, "an integer of " + std::to_string(n) + " bytes");
        std::uint64_t v = n ? little(n) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1u) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
        push(integer(static_cast<std::int64_t>(v)));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const auto s = take(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | std::to_integer<std::uint64_t>(s[static_cast<std::size_t>(i)]);
        auto v = make(K::Float);
        v->real = std::bit_cast<double>(bits);
        push(std::move(v));
        break;
      }
      case 'X': push(string(text(little(4)))); break;     // BINUNICODE
      case 0x8c: push(string(text(little(1)))); break;    // SHORT_BINUNICODE
      case 0x8d: push(string(text(little(8)))); break;    // BINUNICODE8
      case 'T': push(string(text(little(4)))); break;     // BINSTRING
      case 'U': push(string(text(little(1)))); break;     // SHORT_BINSTRING
      case 'B': push(string(text(little(4)), K::Bytes)); break;  // BINBYTES
      case 'C': push(string(text(little(1)), K::Bytes)); break;  // SHORT_BINBYTES
      case ')': push(make(K::Tuple)); break;
      case ']': push(make(K::List)); break;
      case '}': push(make(K::Dict)); break;
      case 't': push(sequence(at, K::Tuple, pop_to_mark(at))); break;
      case 'l': push(sequence(at, K::List, pop_to_mark(at))); break;
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        std::vector<Ref> items(static_cast<std::size_t>(op - 0x84));
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop(at);
        push(sequence(at, K::Tuple, std::move(items)));
        break;
      }
      case 'd': {  // DICT
        Ref d = make(K::Dict);
        set_items(at, *d, pop_to_mark(at));
        push(std::move(d));
        break;
      }
      case 'a': {  // APPEND
        Ref v = pop(at);
        adopt(at, container(at, K::List, "APPEND"), std::move(v));
        break;
      }
      case 'e': {  // APPENDS
        auto items = pop_to_mark(at);
        Value& list = container(at, K::List, "APPENDS");
        for (auto& item : items) adopt(at, list, std::move(item));
        break;
      }
      case 's': {  // SETITEM
        Ref value = pop(at), key = pop(at);
        set_items(at, container(at, K::Dict, "SETITEM"), {std::move(key), std::move(value)});
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_to_mark(at);
        set_items(at, container(at, K::Dict, "SETITEMS"), std::move(items));
        break;
      }
      case 'c': {  // GLOBAL
        const std::string module = line(at);
        const std::string name = line(at);
        push(global(at, module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Ref name = pop(at), module = pop(at);
        if (name->kind != K::String || module->kind != K::String) fail(at, "STACK_GLOBAL of non-strings");
        push(global(at, module->text, name->text));
        break;
      }
      case 'R': {  // REDUCE
        Ref args = pop(at), callable = pop(at);
        push(reduce(at, *callable, *args));
        break;
      }
      case 'b': {  // BUILD: the state of an OrderedDict (its _metadata attribute), dropped
        Ref state = pop(at);
        if (top(at)->kind != K::Dict) fail(at, "BUILD on " + describe(*top(at)));
        break;
      }
      case 'Q': {  // BINPERSID
        Ref pid = pop(at);
        push(persistent(at, *pid));
        break;
      }
      case 'q': memo_put(little(1)); break;  // BINPUT
      case 'r': memo_put(little(4)); break;  // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
      case 'h': memo_get(at, little(1)); break;  // BINGET
      case 'j': memo_get(at, little(4)); break;  // LONG_BINGET
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(at, std::string("opcode ") + hex + " is not one torch.save writes for a weights file");
      }
    }
  }

  std::span<const std::byte> bytes_;
  std::string source_;
  std::size_t pos_ = 0;
  std::vector<Ref> stack_;
  std::unordered_map<std::uint64_t, Ref> memo_;
  std::unordered_map<std::string, std::shared_ptr<Storage>> storages_;
};

}  // namespace t5::io::pickle
