#pragma once
// A small unpickler for what torch.save writes (pickle protocols 2–5, the opcodes Python's
// pickler emits for dicts, lists, tuples, numbers, strings and reduced objects). Torch-free:
// a tensor comes out as a reference to a storage that the caller then reads from its container
// (zip record or legacy stream). Classes it does not know become opaque Object values, so that
// a caller can say what a file holds instead of failing on it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace imagefit::pickle {

// A storage named by a persistent id ('storage', torch.FloatStorage, key, location, numel[, view]).
struct StorageRef {
  std::string key;          // zip: record "data/<key>"; legacy: the key in the storage list
  std::string dtype;        // the class name without "Storage": "Float", "Half", "Long", ...
  int64_t numel = 0;        // elements of the storage
  std::string view_of;      // legacy views only: key of the root storage ("" when not a view)
  int64_t view_offset = 0;  // elements into the root storage
};

// torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...).
struct TensorRef {
  std::shared_ptr<StorageRef> storage;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

enum class Kind { None, Bool, Int, BigInt, Float, String, Bytes, Tuple, List, Dict, Global, Object, Storage, Tensor };

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  // String (UTF-8), Bytes, BigInt (little-endian two's complement bytes), Global ("module.name"),
  // Object (its class, "module.name").
  std::string text;
  std::vector<ValuePtr> items;                         // Tuple, List; Object: constructor arguments
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // Dict, in insertion order
  ValuePtr state;                                      // Object: what BUILD gave it
  std::shared_ptr<StorageRef> storage;                 // Storage
  std::shared_ptr<TensorRef> tensor;                   // Tensor
};

const char* kind_name(Kind kind);
// One line for messages: "dict with 3 entries", "object torchvision.models.resnet.ResNet", ...
std::string describe(const Value& value);

class Unpickler {
 public:
  // `source` names the file in error messages; `data` must outlive the Unpickler.
  Unpickler(const uint8_t* data, size_t size, std::string source);

  // Reads one pickle from the current position up to and including its STOP opcode.
  // Throws imagefit::Error naming the source (truncated data, unknown opcode, malformed stack).
  ValuePtr load();
  size_t position() const { return pos_; }

  // Every storage the pickles named so far, by key (one StorageRef a key, shared by tensors).
  const std::map<std::string, std::shared_ptr<StorageRef>>& storages() const { return storages_; }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  const uint8_t* take(size_t n);
  uint8_t u8() { return *take(1); }
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  std::string line();
  ValuePtr pop();
  ValuePtr& top();
  std::vector<ValuePtr> pop_mark();
  ValuePtr global(const std::string& module, const std::string& name);
  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args);
  ValuePtr persistent_load(const ValuePtr& pid);

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;  // where the current opcode started, for messages
  std::string source_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, ValuePtr> memo_;
  std::map<std::string, std::shared_ptr<StorageRef>> storages_;
};

}  // namespace imagefit::pickle
