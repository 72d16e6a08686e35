#include "weights/pickle_reader.h"

#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace imagefit::pickle {

namespace {

ValuePtr make(Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

ValuePtr make_int(int64_t i) {
  auto v = make(Kind::Int);
  v->integer = i;
  return v;
}

ValuePtr make_text(Kind kind, std::string s) {
  auto v = make(kind);
  v->text = std::move(s);
  return v;
}

ValuePtr make_sequence(Kind kind, std::vector<ValuePtr> items) {
  auto v = make(kind);
  v->items = std::move(items);
  return v;
}

// Little-endian two's complement of n bytes; n <= 8.
int64_t signed_le(const uint8_t* p, size_t n) {
  if (n == 0) return 0;
  uint64_t u = 0;
  for (size_t i = 0; i < n; ++i) u |= static_cast<uint64_t>(p[i]) << (8 * i);
  if (n < 8 && (p[n - 1] & 0x80)) u |= ~uint64_t{0} << (8 * n);
  return static_cast<int64_t>(u);
}

// "torch.FloatStorage" / "torch.cuda.HalfStorage" → "Float" / "Half".
std::string storage_dtype(const std::string& cls) {
  std::string name = cls.substr(cls.rfind('.') == std::string::npos ? 0 : cls.rfind('.') + 1);
  const std::string suffix = "Storage";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return name.substr(0, name.size() - suffix.size());
  return name;
}

std::string hex_byte(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", v & 0xff);
  return buf;
}

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "class";
    case Kind::Object: return "object";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

std::string describe(const Value& v) {
  switch (v.kind) {
    case Kind::Dict: return "a dict with " + std::to_string(v.entries.size()) + " entries";
    case Kind::List:
    case Kind::Tuple: return std::string("a ") + kind_name(v.kind) + " of " + std::to_string(v.items.size()) + " items";
    case Kind::Global: return "the class " + v.text;
    case Kind::Object: return "an object of class " + v.text;
    case Kind::Tensor: return "a single tensor";
    default: return std::string("a ") + kind_name(v.kind);
  }
}

Unpickler::Unpickler(const uint8_t* data, size_t size, std::string source)
    : data_(data), size_(size), source_(std::move(source)) {}

void Unpickler::fail(const std::string& what) const {
  throw Error(source_ + ": " + what + " (pickle data at byte " + std::to_string(op_pos_) + ")");
}

const uint8_t* Unpickler::take(size_t n) {
  if (n > size_ - pos_) {
    op_pos_ = pos_;
    fail("file is truncated or corrupt: the pickle data ends early");
  }
  const uint8_t* p = data_ + pos_;
  pos_ += n;
  return p;
}

uint16_t Unpickler::u16() {
  const uint8_t* p = take(2);
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint32_t Unpickler::u32() {
  const uint8_t* p = take(4);
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

uint64_t Unpickler::u64() {
  const uint8_t* p = take(8);
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u |= static_cast<uint64_t>(p[i]) << (8 * i);
  return u;
}

std::string Unpickler::line() {
  size_t start = pos_;
  while (pos_ < size_ && data_[pos_] != '\n') ++pos_;
  if (pos_ >= size_) fail("file is truncated or corrupt: the pickle data ends early");
  std::string s(reinterpret_cast<const char*>(data_ + start), pos_ - start);
  ++pos_;
  return s;
}

ValuePtr Unpickler::pop() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("malformed pickle (stack underflow)");
  ValuePtr v = std::move(stack_.back());
  stack_.pop_back();
  return v;
}

ValuePtr& Unpickler::top() {
  if (stack_.empty()) fail("malformed pickle (empty stack)");
  return stack_.back();
}

std::vector<ValuePtr> Unpickler::pop_mark() {
  if (marks_.empty()) fail("malformed pickle (no MARK)");
  size_t m = marks_.back();
  marks_.pop_back();
  std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + m), std::make_move_iterator(stack_.end()));
  stack_.resize(m);
  return items;
}

ValuePtr Unpickler::global(const std::string& module, const std::string& name) {
  return make_text(Kind::Global, module + "." + name);
}

ValuePtr Unpickler::reduce(const ValuePtr& callable, const ValuePtr& args) {
  if (callable->kind != Kind::Global) fail("unsupported pickle content: a call of " + describe(*callable));
  if (args->kind != Kind::Tuple) fail("malformed pickle (REDUCE arguments are not a tuple)");
  const std::string& fn = callable->text;
  const auto& a = args->items;
  if (fn == "collections.OrderedDict" || fn == "builtins.dict" || fn == "__builtin__.dict") {
    auto d = make(Kind::Dict);
    if (!a.empty() && a[0]->kind == Kind::List)  // OrderedDict([(k, v), ...])
      for (auto& kv : a[0]->items)
        if (kv->kind == Kind::Tuple && kv->items.size() == 2) d->entries.emplace_back(kv->items[0], kv->items[1]);
    return d;
  }
  if (fn == "torch._utils._rebuild_tensor_v2" || fn == "torch._utils._rebuild_tensor") {
    // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
    if (a.size() < 4 || a[0]->kind != Kind::Storage || a[1]->kind != Kind::Int || a[2]->kind != Kind::Tuple ||
        a[3]->kind != Kind::Tuple || a[2]->items.size() != a[3]->items.size())
      fail("unsupported pickle content: unexpected arguments to " + fn);
    auto t = std::make_shared<TensorRef>();
    t->storage = a[0]->storage;
    t->offset = a[1]->integer;
    for (size_t i = 0; i < a[2]->items.size(); ++i) {
      if (a[2]->items[i]->kind != Kind::Int || a[3]->items[i]->kind != Kind::Int)
        fail("unsupported pickle content: non-integer tensor size or stride");
      t->sizes.push_back(a[2]->items[i]->integer);
      t->strides.push_back(a[3]->items[i]->integer);
    }
    auto v = make(Kind::Tensor);
    v->tensor = std::move(t);
    return v;
  }
  if (fn == "torch._utils._rebuild_parameter" || fn == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty() || a[0]->kind != Kind::Tensor) fail("unsupported pickle content: unexpected arguments to " + fn);
    return a[0];  // a Parameter is its tensor here
  }
  // copyreg._reconstructor(cls, base, state): how plain Python objects (nn.Module) pickle.
  if (fn == "copyreg._reconstructor" && !a.empty() && a[0]->kind == Kind::Global) {
    auto o = make_text(Kind::Object, a[0]->text);
    o->items = a;
    return o;
  }
  auto o = make_text(Kind::Object, fn);
  o->items = a;
  return o;
}

ValuePtr Unpickler::persistent_load(const ValuePtr& pid) {
  // ('storage', torch.FloatStorage, key, location, numel[, view_metadata])
  const auto& p = pid->items;
  if (pid->kind != Kind::Tuple || p.size() < 5 || p[0]->kind != Kind::String || p[0]->text != "storage")
    fail("unsupported pickle content: a persistent id that is not a torch storage");
  if (p[1]->kind != Kind::Global || p[2]->kind != Kind::String || p[4]->kind != Kind::Int)
    fail("unsupported pickle content: malformed storage id");
  const std::string dtype = storage_dtype(p[1]->text);
  auto& root = storages_[p[2]->text];
  if (!root) {
    root = std::make_shared<StorageRef>();
    root->key = p[2]->text;
    root->dtype = dtype;
    root->numel = p[4]->integer;
  } else if (root->dtype != dtype) {
    fail("malformed pickle: storage " + root->key + " is used as both " + root->dtype + " and " + dtype);
  }
  auto v = make(Kind::Storage);
  v->storage = root;
  if (p.size() >= 6 && p[5]->kind == Kind::Tuple) {  // legacy storage view (view_key, offset, view_size)
    const auto& vm = p[5]->items;
    if (vm.size() != 3 || vm[0]->kind != Kind::String || vm[1]->kind != Kind::Int || vm[2]->kind != Kind::Int)
      fail("unsupported pickle content: malformed storage view");
    // torch's legacy views are of root storages; a view of a view would chain without bound.
    if (!root->view_of.empty()) fail("malformed pickle: storage " + root->key + " is a view and has views");
    auto& view = storages_[vm[0]->text];
    if (!view) {
      view = std::make_shared<StorageRef>();
      view->key = vm[0]->text;
      view->dtype = dtype;
      view->numel = vm[2]->integer;
      view->view_of = root->key;
      view->view_offset = vm[1]->integer;
    }
    v->storage = view;
  }
  return v;
}

ValuePtr Unpickler::load() {
  stack_.clear();
  marks_.clear();
  memo_.clear();
  for (;;) {
    op_pos_ = pos_;
    const uint8_t op = u8();
    switch (op) {
      case 0x80: u8(); break;     // PROTO
      case 0x95: u64(); break;    // FRAME: only a hint for buffering
      case '.': {                 // STOP
        ValuePtr v = pop();
        return v;
      }
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': pop(); break;                            // POP
      case '1': pop_mark(); break;                       // POP_MARK
      case '2': {                                       // DUP
        ValuePtr v = top();
        stack_.push_back(std::move(v));
        break;
      }

      case 'N': stack_.push_back(make(Kind::None)); break;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        auto v = make(Kind::Bool);
        v->boolean = op == 0x88;
        stack_.push_back(v);
        break;
      }
      case 'J': stack_.push_back(make_int(static_cast<int32_t>(u32()))); break;  // BININT
      case 'K': stack_.push_back(make_int(u8())); break;                         // BININT1
      case 'M': stack_.push_back(make_int(u16())); break;                        // BININT2
      case 0x8a:                                                                 // LONG1
      case 0x8b: {                                                               // LONG4
        const size_t n = op == 0x8a ? u8() : u32();
        const uint8_t* p = take(n);
        if (n <= 8) {
          stack_.push_back(make_int(signed_le(p, n)));
        } else {
          stack_.push_back(make_text(Kind::BigInt, std::string(reinterpret_cast<const char*>(p), n)));
        }
        break;
      }
      case 'I': {  // INT (protocol 0): "01"/"00" are True/False
        const std::string s = line();
        if (s == "01" || s == "00") {
          auto v = make(Kind::Bool);
          v->boolean = s == "01";
          stack_.push_back(v);
        } else {
          try {
            stack_.push_back(make_int(std::stoll(s)));
          } catch (const std::exception&) {
            fail("malformed pickle (bad INT)");
          }
        }
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const uint8_t* p = take(8);
        uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u = (u << 8) | p[i];
        auto v = make(Kind::Float);
        std::memcpy(&v->real, &u, sizeof(double));
        stack_.push_back(v);
        break;
      }
      case 'F': {  // FLOAT (protocol 0)
        auto v = make(Kind::Float);
        try {
          v->real = std::stod(line());
        } catch (const std::exception&) {
          fail("malformed pickle (bad FLOAT)");
        }
        stack_.push_back(v);
        break;
      }
      case 'X':     // BINUNICODE
      case 0x8c:    // SHORT_BINUNICODE
      case 0x8d:    // BINUNICODE8
      case 'T':     // BINSTRING (Python 2 str)
      case 'U': {   // SHORT_BINSTRING
        const uint64_t n = (op == 0x8c || op == 'U') ? u8() : op == 0x8d ? u64() : u32();
        const uint8_t* p = take(n);
        stack_.push_back(make_text(Kind::String, std::string(reinterpret_cast<const char*>(p), n)));
        break;
      }
      case 'B':     // BINBYTES
      case 'C':     // SHORT_BINBYTES
      case 0x8e:    // BINBYTES8
      case 0x96: {  // BYTEARRAY8
        const uint64_t n = op == 'C' ? u8() : op == 'B' ? u32() : u64();
        const uint8_t* p = take(n);
        stack_.push_back(make_text(Kind::Bytes, std::string(reinterpret_cast<const char*>(p), n)));
        break;
      }

      case '}': stack_.push_back(make(Kind::Dict)); break;                      // EMPTY_DICT
      case ']': stack_.push_back(make(Kind::List)); break;                      // EMPTY_LIST
      case ')': stack_.push_back(make(Kind::Tuple)); break;                     // EMPTY_TUPLE
      case 0x8f: stack_.push_back(make(Kind::List)); break;                     // EMPTY_SET (as a list)
      case 't': stack_.push_back(make_sequence(Kind::Tuple, pop_mark())); break;  // TUPLE
      case 'l': stack_.push_back(make_sequence(Kind::List, pop_mark())); break;   // LIST
      case 0x91: stack_.push_back(make_sequence(Kind::List, pop_mark())); break;  // FROZENSET
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t n = op - 0x84;
        std::vector<ValuePtr> items(n);
        for (size_t i = n; i-- > 0;) items[i] = pop();
        stack_.push_back(make_sequence(Kind::Tuple, std::move(items)));
        break;
      }
      case 'd': {  // DICT
        auto items = pop_mark();
        if (items.size() % 2) fail("malformed pickle (odd DICT)");
        auto d = make(Kind::Dict);
        for (size_t i = 0; i < items.size(); i += 2) d->entries.emplace_back(items[i], items[i + 1]);
        stack_.push_back(d);
        break;
      }
      case 'a': {  // APPEND
        ValuePtr v = pop();
        ValuePtr& list = top();
        if (list->kind != Kind::List) fail("malformed pickle (APPEND to " + describe(*list) + ")");
        list->items.push_back(std::move(v));
        break;
      }
      case 'e':     // APPENDS
      case 0x90: {  // ADDITEMS
        auto items = pop_mark();
        ValuePtr& list = top();
        if (list->kind != Kind::List) fail("malformed pickle (APPENDS to " + describe(*list) + ")");
        for (auto& v : items) list->items.push_back(std::move(v));
        break;
      }
      case 's': {  // SETITEM
        ValuePtr value = pop();
        ValuePtr key = pop();
        ValuePtr& d = top();
        if (d->kind != Kind::Dict) fail("malformed pickle (SETITEM on " + describe(*d) + ")");
        d->entries.emplace_back(std::move(key), std::move(value));
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        if (items.size() % 2) fail("malformed pickle (odd SETITEMS)");
        ValuePtr& d = top();
        if (d->kind != Kind::Dict) fail("malformed pickle (SETITEMS on " + describe(*d) + ")");
        for (size_t i = 0; i < items.size(); i += 2) d->entries.emplace_back(items[i], items[i + 1]);
        break;
      }

      case 'q': memo_[u8()] = top(); break;                           // BINPUT
      case 'r': memo_[u32()] = top(); break;                          // LONG_BINPUT
      case 0x94: memo_[memo_.size()] = top(); break;                  // MEMOIZE
      case 'p': {                                                     // PUT (protocol 0)
        const std::string s = line();
        try {
          memo_[std::stoull(s)] = top();
        } catch (const std::exception&) {  // not a number, or out of range (found by fuzzing)
          fail("malformed pickle (bad PUT)");
        }
        break;
      }
      case 'h':
      case 'j':
      case 'g': {  // BINGET, LONG_BINGET, GET
        uint64_t key = 0;
        if (op == 'h') {
          key = u8();
        } else if (op == 'j') {
          key = u32();
        } else {
          try {
            key = std::stoull(line());
          } catch (const std::exception&) {
            fail("malformed pickle (bad GET)");
          }
        }
        auto it = memo_.find(key);
        if (it == memo_.end()) fail("malformed pickle (memo entry " + std::to_string(key) + " is missing)");
        stack_.push_back(it->second);
        break;
      }

      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = line();
        std::string name = line();
        stack_.push_back(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        ValuePtr name = pop();
        ValuePtr module = pop();
        if (name->kind != Kind::String || module->kind != Kind::String) fail("malformed pickle (STACK_GLOBAL)");
        stack_.push_back(global(module->text, name->text));
        break;
      }
      case 'R': {  // REDUCE
        ValuePtr args = pop();
        ValuePtr callable = pop();
        stack_.push_back(reduce(callable, args));
        break;
      }
      case 0x81:    // NEWOBJ: cls.__new__(cls, *args)
      case 0x92: {  // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
        if (op == 0x92) pop();
        ValuePtr args = pop();
        ValuePtr cls = pop();
        if (cls->kind != Kind::Global) fail("unsupported pickle content: NEWOBJ of " + describe(*cls));
        auto o = make_text(Kind::Object, cls->text);
        o->items = args->items;
        stack_.push_back(o);
        break;
      }
      case 'b': {  // BUILD: obj.__setstate__(state)
        ValuePtr state = pop();
        ValuePtr& obj = top();
        // OrderedDict state is its attributes (a state_dict's _metadata): not entries.
        if (obj->kind == Kind::Object) obj->state = std::move(state);
        break;
      }
      case 'Q': {  // BINPERSID
        ValuePtr pid = pop();
        stack_.push_back(persistent_load(pid));
        break;
      }
      case 'P': {  // PERSID (protocol 0): a string id, which torch never writes
        line();
        fail("unsupported pickle content: a text persistent id");
      }
      default:
        fail("not a torch.save file, or unsupported pickle content: unknown opcode " + hex_byte(op));
    }
  }
}

}  // namespace imagefit::pickle
