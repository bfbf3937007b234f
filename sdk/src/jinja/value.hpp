#pragma once
// The runtime value of the template language: Python's object model reduced to
// what chat templates use (None, bool, int, float, str, list/tuple, dict,
// namespace, callables) plus Jinja's Undefined.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace allm::jinja {

class Value;
struct ListObj;
struct DictObj;
struct CallArgs;
class Interpreter;

using ListPtr = std::shared_ptr<ListObj>;
using DictPtr = std::shared_ptr<DictObj>;

// A function reachable from the template: a global, a bound method, a macro.
struct Callable {
  std::string name;
  std::function<Value(CallArgs&, Interpreter&)> fn;
};
using CallablePtr = std::shared_ptr<Callable>;

// Values nested deeper than this (a list in a list in ...) cannot be printed,
// compared, serialised or converted from JSON: the walkers recurse once per
// level and would otherwise exhaust the native stack. Python's own recursion
// limit is 1000; templates never come close.
constexpr int kMaxValueDepth = 500;

// The memory one render may hold: bytes of strings inside values, item slots
// of lists and dicts, and output being written, charged as they grow and
// refunded as they are freed. One budget is current per thread while a render
// runs (MemoryBudget::Active); values created outside any render are free.
class MemoryBudget {
 public:
  // `max_value_bytes` also caps any one result still being built (the
  // render's max_output_bytes: a `tojson` text larger than that is refused
  // as it grows, not after).
  explicit MemoryBudget(size_t limit, size_t max_value_bytes = SIZE_MAX)
      : limit_(limit), max_value_bytes_(max_value_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Adds `bytes` to what is held; throws std::runtime_error past the limit.
  void charge(size_t bytes);
  void refund(size_t bytes) noexcept { used_ = bytes > used_ ? 0 : used_ - bytes; }
  // Throws when `extra` more bytes (a result still being built) would not fit.
  void check_transient(size_t extra) const;
  // Same for text being built (tojson, repr), which may also not outgrow
  // max_value_bytes.
  void check_text(size_t bytes) const;
  size_t used() const { return used_; }
  size_t limit() const { return limit_; }

  // The budget of the render running on this thread, or nullptr.
  static MemoryBudget* current();
  // Makes `budget` current for its lifetime (restores the previous one after).
  class Active {
   public:
    explicit Active(MemoryBudget* budget);
    ~Active();
    Active(const Active&) = delete;
    Active& operator=(const Active&) = delete;

   private:
    MemoryBudget* saved_;
  };

 private:
  [[noreturn]] void exceeded(size_t wanted) const;
  size_t limit_;
  size_t max_value_bytes_;
  size_t used_ = 0;
};

// Charges `bytes` to the current budget, if any.
inline void charge_memory(size_t bytes) {
  if (MemoryBudget* b = MemoryBudget::current()) b->charge(bytes);
}
// Throws when a result of `bytes` still being built would not fit the current budget.
inline void check_memory(size_t bytes) {
  if (MemoryBudget* b = MemoryBudget::current()) b->check_transient(bytes);
}
// The same for text still being built.
inline void check_text_size(size_t bytes) {
  if (MemoryBudget* b = MemoryBudget::current()) b->check_text(bytes);
}

class Value {
 public:
  enum class Type { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };

  Value() : type_(Type::Undefined) {}
  static Value undefined(std::string hint = {}) {
    Value v;
    v.str_ = std::move(hint);
    v.charge_string();
    return v;
  }
  static Value none() { Value v; v.type_ = Type::None; return v; }
  Value(bool b) : type_(Type::Bool), int_(b) {}
  Value(int i) : type_(Type::Int), int_(i) {}
  Value(int64_t i) : type_(Type::Int), int_(i) {}
  Value(double d) : type_(Type::Float), float_(d) {}
  Value(std::string s) : type_(Type::String), str_(std::move(s)) { charge_string(); }
  Value(const char* s) : type_(Type::String), str_(s) { charge_string(); }
  Value(ListPtr l) : type_(Type::List), list_(std::move(l)) {}
  Value(DictPtr d) : type_(Type::Dict), dict_(std::move(d)) {}
  Value(CallablePtr c) : type_(Type::Callable), callable_(std::move(c)) {}

  // markupsafe's Markup: a str that is already HTML-safe (what `safe` and
  // `escape` return). Jinja without autoescape prints it as is, but `+`, `%`
  // and some of its methods HTML-escape the plain strings combined with it.
  static Value markup(std::string s) {
    Value v(std::move(s));
    v.markup_ = true;
    return v;
  }
  // Copies charge their string to the current MemoryBudget; moves carry the
  // charge along; destruction refunds it.
  Value(const Value& other);
  Value(Value&& other) noexcept;
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept;
  ~Value() {
    refund_string();
    if (type_ >= Type::List && holds_last_reference()) release_iteratively();
  }

  static Value list(std::vector<Value> items = {}, bool tuple = false);
  static Value generator(std::vector<Value> items, std::string deferred_error = {});
  static Value dict();
  static Value function(std::string name, std::function<Value(CallArgs&, Interpreter&)> fn);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::Undefined; }
  bool is_none() const { return type_ == Type::None; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }  // bool is not int here (see is_integral)
  bool is_float() const { return type_ == Type::Float; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float || type_ == Type::Bool; }
  bool is_integral() const { return type_ == Type::Int || type_ == Type::Bool; }
  bool is_string() const { return type_ == Type::String; }
  bool is_markup() const { return type_ == Type::String && markup_; }
  bool is_list() const { return type_ == Type::List; }
  bool is_dict() const { return type_ == Type::Dict; }
  bool is_callable() const { return type_ == Type::Callable; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }
  double as_double() const { return type_ == Type::Float ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return str_; }
  const std::string& undefined_hint() const { return str_; }
  ListObj& as_list() const { return *list_; }
  const ListPtr& list_ptr() const { return list_; }
  DictObj& as_dict() const { return *dict_; }
  const DictPtr& dict_ptr() const { return dict_; }
  Callable& as_callable() const { return *callable_; }

  // Python's bool(x).
  bool truthy() const;
  // Python's type name, for messages ("str", "list", "NoneType", ...).
  std::string type_name() const;

 private:
  void charge_string();
  void refund_string() noexcept;
  bool holds_last_reference() const noexcept {
    return (list_ && list_.use_count() == 1) || (dict_ && dict_.use_count() == 1) ||
           (callable_ && callable_.use_count() == 1);
  }
  // Frees what this value alone holds without recursing per nesting level.
  void release_iteratively() noexcept;

  Type type_;
  bool markup_ = false;
  bool charged_ = false;  // str_'s bytes are counted in the current MemoryBudget
  int64_t int_ = 0;
  double float_ = 0;
  std::string str_;
  ListPtr list_;
  DictPtr dict_;
  CallablePtr callable_;

};

// Lists and dicts free their nested lists and dicts iteratively (a value
// nested 10^5 deep must not recurse 10^5 destructors deep), and refund the
// item slots they charged to the MemoryBudget.
struct ListObj {
  ListObj() = default;
  ListObj(const ListObj&) = delete;
  ListObj& operator=(const ListObj&) = delete;
  ~ListObj();
  // Charges item slots added since the last call (after building `items`).
  void account();
  size_t charged = 0;

  std::vector<Value> items;
  bool tuple = false;
  // A Python generator (what Jinja's select/map/items/batch/unique/reverse
  // filters return): always truthy, no len(), prints as a generator object,
  // empty once iterated, and any error it holds surfaces on iteration.
  bool generator = false;
  std::string deferred_error;
  // A named tuple's field names (groupby's (grouper, list)): `t.grouper`
  // reads items[0]. It prints as a plain tuple, as Jinja's _GroupTuple does.
  std::vector<std::string> fields;
};

// Insertion-ordered mapping, like Python's dict. Small dicts dominate, so a
// linear scan is fine. A namespace() object is a DictObj flagged as such.
struct DictObj {
  DictObj() = default;
  DictObj(const DictObj&) = delete;
  DictObj& operator=(const DictObj&) = delete;
  ~DictObj();
  void account();
  size_t charged = 0;

  std::vector<std::pair<Value, Value>> items;
  bool is_namespace = false;
  // Set when the object can also be called: a recursive for-loop's `loop`,
  // whose call renders the loop body for another iterable.
  CallablePtr call;
  // Registered with the interpreter, which empties it when the render ends
  // (a namespace can be made to hold itself: `ns.self = ns`).
  bool cycle_tracked = false;

  const Value* find(const Value& key) const;
  Value* find(const Value& key);
  void set(const Value& key, Value value);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The argument at `index` or named `name`; nullptr when absent. Marks it used.
  const Value* get(size_t index, const char* name);
  // Throws (via the caller's message) when an argument was not consumed.
  void expect_no_more(const std::string& what);
  std::vector<bool> used_positional;
  std::vector<bool> used_keyword;
};

// Python == (1 == 1.0 == True; lists and dicts compare by value).
bool values_equal(const Value& a, const Value& b);
// Python <; throws std::invalid_argument for unorderable types.
bool values_less(const Value& a, const Value& b);

// markupsafe.escape(x): a Markup stays as is; anything else is converted
// with str() and its & < > " ' replaced by entities.
Value html_escape(const Value& v);

// Python str(x) and repr(x), the way Jinja prints values.
std::string to_str(const Value& v);
std::string to_repr(const Value& v);
std::string float_repr(double d);

// JSON <-> Value. JSON integers become int, floats float, objects keep order.
Value from_json(const nlohmann::ordered_json& j);

// Python json.dumps options, as transformers' `tojson` passes them.
struct JsonStyle {
  bool has_indent = false;  // indent=None -> one line
  std::string indent;       // one level of indentation (an int n means n spaces)
  std::string item_separator = ", ";  // ", " without indent, "," with one
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// Python json.dumps(v, ...). Throws std::invalid_argument for values JSON
// cannot hold (Undefined, callables, namespaces).
std::string json_dumps(const Value& v, const JsonStyle& style);

}  // namespace allm::jinja
