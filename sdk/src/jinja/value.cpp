#include "jinja/value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "jinja/utf8.hpp"

namespace allm::jinja {

// ------------------------------------------------------------ memory budget

namespace {
thread_local MemoryBudget* t_budget = nullptr;
// Values whose list/dict/callable is being freed by release_iteratively.
thread_local std::vector<Value>* t_doomed = nullptr;
}  // namespace

MemoryBudget* MemoryBudget::current() { return t_budget; }

MemoryBudget::Active::Active(MemoryBudget* budget) : saved_(t_budget) { t_budget = budget; }
MemoryBudget::Active::~Active() { t_budget = saved_; }

void MemoryBudget::exceeded(size_t wanted) const {
  throw std::runtime_error("template memory exceeds the limit of " + std::to_string(limit_) + " bytes (" +
                           std::to_string(used_) + " held, " + std::to_string(wanted) + " more wanted)");
}

void MemoryBudget::charge(size_t bytes) {
  if (bytes > limit_ - std::min(used_, limit_)) exceeded(bytes);
  used_ += bytes;
}

void MemoryBudget::check_transient(size_t extra) const {
  if (extra > limit_ - std::min(used_, limit_)) exceeded(extra);
}

void MemoryBudget::check_text(size_t bytes) const {
  if (bytes > max_value_bytes_)
    throw std::runtime_error("value exceeds the output limit of " + std::to_string(max_value_bytes_) + " bytes");
  check_transient(bytes);
}

void Value::charge_string() {
  if (str_.empty() || !t_budget) return;
  t_budget->charge(str_.size());
  charged_ = true;
}

void Value::refund_string() noexcept {
  if (charged_ && t_budget) t_budget->refund(str_.size());
  charged_ = false;
}

Value::Value(const Value& other)
    : type_(other.type_),
      markup_(other.markup_),
      int_(other.int_),
      float_(other.float_),
      str_(other.str_),
      list_(other.list_),
      dict_(other.dict_),
      callable_(other.callable_) {
  charge_string();
}

Value::Value(Value&& other) noexcept
    : type_(other.type_),
      markup_(other.markup_),
      charged_(other.charged_),
      int_(other.int_),
      float_(other.float_),
      str_(std::move(other.str_)),
      list_(std::move(other.list_)),
      dict_(std::move(other.dict_)),
      callable_(std::move(other.callable_)) {
  other.type_ = Type::Undefined;
  other.markup_ = false;
  other.charged_ = false;
  other.str_.clear();
}

Value& Value::operator=(const Value& other) {
  if (this != &other) *this = Value(other);
  return *this;
}

Value& Value::operator=(Value&& other) noexcept {
  if (this != &other) {
    Value old(std::move(*this));  // freed (and refunded) at the end of this scope
    type_ = other.type_;
    markup_ = other.markup_;
    charged_ = other.charged_;
    int_ = other.int_;
    float_ = other.float_;
    str_ = std::move(other.str_);
    list_ = std::move(other.list_);
    dict_ = std::move(other.dict_);
    callable_ = std::move(other.callable_);
    other.type_ = Type::Undefined;
    other.markup_ = false;
    other.charged_ = false;
    other.str_.clear();
  }
  return *this;
}

// Freeing a list frees its items; an item that is the last reference to a
// nested list would free that one from inside, and so on, one native frame
// per level. Instead the first release on this thread keeps a worklist: the
// nested values that are last references are moved onto it and freed by the
// loop below, one at a time.
void Value::release_iteratively() noexcept {
  if (t_doomed) {
    t_doomed->push_back(std::move(*this));
    return;
  }
  std::vector<Value> doomed;
  t_doomed = &doomed;
  doomed.push_back(std::move(*this));
  while (!doomed.empty()) {
    Value v = std::move(doomed.back());
    doomed.pop_back();
    // Drop the pointers here so v's own destructor has nothing to defer.
    ListPtr l = std::move(v.list_);
    DictPtr d = std::move(v.dict_);
    CallablePtr c = std::move(v.callable_);
    v.type_ = Type::Undefined;
    l.reset();  // nested last references land on `doomed`
    d.reset();
    c.reset();
  }
  t_doomed = nullptr;
}

ListObj::~ListObj() {
  if (charged && t_budget) t_budget->refund(charged);
}

void ListObj::account() {
  if (!t_budget) return;
  size_t want = items.capacity() * sizeof(Value) + sizeof(ListObj);
  if (want > charged) {
    t_budget->charge(want - charged);
    charged = want;
  }
}

DictObj::~DictObj() {
  if (charged && t_budget) t_budget->refund(charged);
}

void DictObj::account() {
  if (!t_budget) return;
  size_t want = items.capacity() * sizeof(items[0]) + sizeof(DictObj);
  if (want > charged) {
    t_budget->charge(want - charged);
    charged = want;
  }
}

// ------------------------------------------------------------------- values

Value Value::list(std::vector<Value> items, bool tuple) {
  auto l = std::make_shared<ListObj>();
  l->items = std::move(items);
  l->tuple = tuple;
  l->account();
  return Value(std::move(l));
}

Value Value::generator(std::vector<Value> items, std::string deferred_error) {
  Value v = list(std::move(items));
  v.as_list().generator = true;
  v.as_list().deferred_error = std::move(deferred_error);
  return v;
}

Value Value::dict() {
  auto d = std::make_shared<DictObj>();
  d->account();
  return Value(std::move(d));
}

Value Value::function(std::string name, std::function<Value(CallArgs&, Interpreter&)> fn) {
  return Value(std::make_shared<Callable>(Callable{std::move(name), std::move(fn)}));
}

bool Value::truthy() const {
  switch (type_) {
    case Type::Undefined:
    case Type::None: return false;
    case Type::Bool:
    case Type::Int: return int_ != 0;
    case Type::Float: return float_ != 0.0;
    case Type::String: return !str_.empty();
    case Type::List: return list_->generator || !list_->items.empty();
    case Type::Dict: return dict_->is_namespace || !dict_->items.empty();
    case Type::Callable: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (type_) {
    case Type::Undefined: return "Undefined";
    case Type::None: return "NoneType";
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::String: return markup_ ? "Markup" : "str";
    case Type::List: return list_->generator ? "generator" : list_->tuple ? "tuple" : "list";
    case Type::Dict: return dict_->is_namespace ? "Namespace" : "dict";
    case Type::Callable: return "function";
  }
  return "object";
}

const Value* DictObj::find(const Value& key) const {
  for (auto& [k, v] : items)
    if (values_equal(k, key)) return &v;
  return nullptr;
}

Value* DictObj::find(const Value& key) {
  for (auto& [k, v] : items)
    if (values_equal(k, key)) return &v;
  return nullptr;
}

void DictObj::set(const Value& key, Value value) {
  if (Value* slot = find(key))
    *slot = std::move(value);
  else {
    items.emplace_back(key, std::move(value));
    account();
  }
}

const Value* CallArgs::get(size_t index, const char* name) {
  used_positional.resize(positional.size());
  used_keyword.resize(keyword.size());
  if (index < positional.size()) {
    used_positional[index] = true;
    return &positional[index];
  }
  if (name)
    for (size_t k = 0; k < keyword.size(); ++k)
      if (keyword[k].first == name) {
        used_keyword[k] = true;
        return &keyword[k].second;
      }
  return nullptr;
}

void CallArgs::expect_no_more(const std::string& what) {
  used_positional.resize(positional.size());
  used_keyword.resize(keyword.size());
  for (size_t i = 0; i < positional.size(); ++i)
    if (!used_positional[i]) throw std::invalid_argument(what + " got too many positional arguments");
  for (size_t k = 0; k < keyword.size(); ++k)
    if (!used_keyword[k]) throw std::invalid_argument(what + " got an unexpected keyword argument '" + keyword[k].first + "'");
}

namespace {
void check_depth(int depth, const char* what) {
  if (depth > kMaxValueDepth)
    throw std::invalid_argument(std::string(what) + ": value nested more than " + std::to_string(kMaxValueDepth) +
                                " levels deep");
}
bool equal_at(const Value& a, const Value& b, int depth);
bool less_at(const Value& a, const Value& b, int depth);
std::string repr_at(const Value& v, int depth);
Value from_json_at(const nlohmann::ordered_json& j, int depth);
}  // namespace

bool values_equal(const Value& a, const Value& b) { return equal_at(a, b, 0); }
bool values_less(const Value& a, const Value& b) { return less_at(a, b, 0); }
std::string to_repr(const Value& v) { return repr_at(v, 0); }
Value from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

namespace {

bool equal_at(const Value& a, const Value& b, int depth) {
  using T = Value::Type;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::Undefined:
    case T::None: return true;
    case T::String: return a.as_string() == b.as_string();
    case T::List: {
      auto& x = a.as_list();
      auto& y = b.as_list();
      if (x.generator || y.generator) return a.list_ptr() == b.list_ptr();
      if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
      check_depth(depth, "comparison");
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equal_at(x.items[i], y.items[i], depth + 1)) return false;
      return true;
    }
    case T::Dict: {
      if (a.dict_ptr() == b.dict_ptr()) return true;
      auto& x = a.as_dict();
      auto& y = b.as_dict();
      if (x.is_namespace || y.is_namespace || x.items.size() != y.items.size()) return false;
      check_depth(depth, "comparison");
      for (auto& [k, v] : x.items) {
        const Value* other = y.find(k);
        if (!other || !equal_at(v, *other, depth + 1)) return false;
      }
      return true;
    }
    case T::Callable: return &a.as_callable() == &b.as_callable();
    default: return false;
  }
}

bool less_at(const Value& a, const Value& b, int depth) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list() && a.as_list().tuple == b.as_list().tuple && !a.as_list().generator &&
      !b.as_list().generator) {
    auto& x = a.as_list().items;
    auto& y = b.as_list().items;
    check_depth(depth, "comparison");
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equal_at(x[i], y[i], depth + 1)) return less_at(x[i], y[i], depth + 1);
    }
    return x.size() < y.size();
  }
  throw std::invalid_argument("'<' not supported between instances of '" + a.type_name() + "' and '" +
                              b.type_name() + "'");
}

}  // namespace

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci = [-]D[.DDD]e[+-]XX : split into sign, digits, exponent.
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exponent = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  std::string out = negative ? "-" : "";
  if (exponent >= -5 + 1 && exponent < 16) {
    // Python uses fixed notation for 1e-4 <= |d| < 1e16.
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(exponent) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exponent) + 1) + "." + digits.substr(static_cast<size_t>(exponent) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out += '.';
    out.append(digits, 1, std::string::npos);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp_buf;
}

static std::string string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8::seq_len(s, i);
    uint32_t cp = utf8::decode_at(s, i, n);
    char buf[8];
    if (cp == '\\') out += "\\\\";
    else if (cp == static_cast<uint32_t>(quote)) out += std::string("\\") + quote;
    else if (cp == '\n') out += "\\n";
    else if (cp == '\r') out += "\\r";
    else if (cp == '\t') out += "\\t";
    else if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) {
      std::snprintf(buf, sizeof buf, "\\x%02x", cp);
      out += buf;
    } else {
      out.append(s, i, n);
    }
    i += n;
  }
  out += quote;
  return out;
}

namespace {
// Appends repr(v) to `out`: one buffer for the whole value, so a value whose
// text is huge (shared sub-lists printed again and again) is caught by the
// memory budget as it grows, and no level copies its children's text.
void repr_into(std::string& out, const Value& v, int depth) {
  using T = Value::Type;
  switch (v.type()) {
    case T::String:
      if (v.is_markup()) out += "Markup(" + string_repr(v.as_string()) + ")";
      else out += string_repr(v.as_string());
      return;
    case T::List: {
      auto& l = v.as_list();
      if (l.generator) {
        out += "<generator object>";
        return;
      }
      check_depth(depth, "printing");
      out += l.tuple ? "(" : "[";
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        repr_into(out, l.items[i], depth + 1);
        check_text_size(out.size());
      }
      if (l.tuple && l.items.size() == 1) out += ",";
      out += l.tuple ? ")" : "]";
      return;
    }
    case T::Dict: {
      auto& d = v.as_dict();
      check_depth(depth, "printing");
      out += d.is_namespace ? "<Namespace {" : "{";
      bool first = true;
      for (auto& [k, val] : d.items) {
        if (!first) out += ", ";
        first = false;
        repr_into(out, k, depth + 1);
        out += ": ";
        repr_into(out, val, depth + 1);
        check_text_size(out.size());
      }
      out += d.is_namespace ? "}>" : "}";
      return;
    }
    case T::Undefined: out += "Undefined"; return;  // Jinja's Undefined.__repr__ (inside printed lists)
    default: out += to_str(v); return;
  }
}

std::string repr_at(const Value& v, int depth) {
  std::string out;
  repr_into(out, v, depth);
  return out;
}
}  // namespace

Value html_escape(const Value& v) {
  if (v.is_markup()) return v;
  std::string out;
  for (char c : v.is_undefined() ? std::string() : to_str(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value::markup(std::move(out));
}

std::string to_str(const Value& v) {
  using T = Value::Type;
  switch (v.type()) {
    case T::Undefined: return "";
    case T::None: return "None";
    case T::Bool: return v.as_bool() ? "True" : "False";
    case T::Int: return std::to_string(v.as_int());
    case T::Float: return float_repr(v.as_double());
    case T::String: return v.as_string();
    case T::Callable: return "<function " + v.as_callable().name + ">";
    default: return to_repr(v);
  }
}

namespace {
Value from_json_at(const nlohmann::ordered_json& j, int depth) {
  using J = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case J::null: return Value::none();
    case J::boolean: return Value(j.get<bool>());
    case J::number_integer: return Value(j.get<int64_t>());
    case J::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case J::number_float: return Value(j.get<double>());
    case J::string: return Value(j.get<std::string>());
    case J::array: {
      check_depth(depth, "JSON input");
      check_memory(j.size() * sizeof(Value));
      std::vector<Value> items;
      items.reserve(j.size());
      for (auto& e : j) items.push_back(from_json_at(e, depth + 1));
      return Value::list(std::move(items));
    }
    case J::object: {
      check_depth(depth, "JSON input");
      Value d = Value::dict();
      auto& obj = d.as_dict();
      obj.items.reserve(j.size());
      obj.account();
      for (auto it = j.begin(); it != j.end(); ++it) obj.items.emplace_back(Value(it.key()), from_json_at(it.value(), depth + 1));
      return d;
    }
    default: return Value::none();  // binary / discarded: not produced by JSON text
  }
}
}  // namespace

static void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8::seq_len(s, i);
    uint32_t cp = utf8::decode_at(s, i, n);
    char buf[16];
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
          if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
          } else {
            std::snprintf(buf, sizeof buf, "\\u%04x", cp);
          }
          out += buf;
        } else {
          out.append(s, i, n);
        }
    }
    i += n;
  }
  out += '"';
}

static std::string json_key(const Value& k) {
  if (k.is_string()) return k.as_string();
  if (k.is_none()) return "null";
  if (k.is_bool()) return k.as_bool() ? "true" : "false";
  if (k.is_int()) return std::to_string(k.as_int());
  if (k.is_float()) return float_repr(k.as_double());
  throw std::invalid_argument("keys must be str, int, float, bool or None, not " + k.type_name());
}

static void json_value(std::string& out, const Value& v, const JsonStyle& style, int depth) {
  check_depth(depth, "tojson");
  // The result can be far larger than the value (a list holding the same
  // list twice, nested) and must not outgrow the render's memory.
  check_text_size(out.size());
  using T = Value::Type;
  auto newline = [&](int level) {
    out += '\n';
    for (int i = 0; i < level; ++i) out += style.indent;
  };
  switch (v.type()) {
    case T::None: out += "null"; return;
    case T::Bool: out += v.as_bool() ? "true" : "false"; return;
    case T::Int: out += std::to_string(v.as_int()); return;
    case T::Float: {
      double d = v.as_double();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d < 0 ? "-Infinity" : "Infinity";
      else out += float_repr(d);
      return;
    }
    case T::String: json_string(out, v.as_string(), style.ensure_ascii); return;
    case T::List: {
      if (v.as_list().generator) throw std::invalid_argument("Object of type generator is not JSON serializable");
      auto& items = v.as_list().items;
      if (items.empty()) { out += "[]"; return; }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += style.item_separator;
        if (style.has_indent) newline(depth + 1);
        json_value(out, items[i], style, depth + 1);
      }
      if (style.has_indent) newline(depth);
      out += ']';
      return;
    }
    case T::Dict: {
      auto& d = v.as_dict();
      if (d.is_namespace) throw std::invalid_argument("Object of type Namespace is not JSON serializable");
      if (d.items.empty()) { out += "{}"; return; }
      std::vector<std::pair<std::string, const Value*>> entries;
      for (auto& [k, val] : d.items) entries.emplace_back(json_key(k), &val);
      if (style.sort_keys)
        std::stable_sort(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.first < b.first; });
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += style.item_separator;
        if (style.has_indent) newline(depth + 1);
        json_string(out, entries[i].first, style.ensure_ascii);
        out += style.key_separator;
        json_value(out, *entries[i].second, style, depth + 1);
      }
      if (style.has_indent) newline(depth);
      out += '}';
      return;
    }
    case T::Undefined: throw std::invalid_argument("Object of type Undefined is not JSON serializable");
    case T::Callable: throw std::invalid_argument("Object of type function is not JSON serializable");
  }
}

std::string json_dumps(const Value& v, const JsonStyle& style) {
  std::string out;
  json_value(out, v, style, 0);
  return out;
}

}  // namespace allm::jinja
