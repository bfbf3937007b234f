#include "jinja/value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "jinja/utf8.hpp"

namespace allm::jinja {

Value Value::list(std::vector<Value> items, bool tuple) {
  auto l = std::make_shared<ListObj>();
  l->items = std::move(items);
  l->tuple = tuple;
  return Value(std::move(l));
}

Value Value::generator(std::vector<Value> items, std::string deferred_error) {
  Value v = list(std::move(items));
  v.as_list().generator = true;
  v.as_list().deferred_error = std::move(deferred_error);
  return v;
}

Value Value::dict() { return Value(std::make_shared<DictObj>()); }

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
  else
    items.emplace_back(key, std::move(value));
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

bool values_equal(const Value& a, const Value& b) {
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
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!values_equal(x.items[i], y.items[i])) return false;
      return true;
    }
    case T::Dict: {
      if (a.dict_ptr() == b.dict_ptr()) return true;
      auto& x = a.as_dict();
      auto& y = b.as_dict();
      if (x.is_namespace || y.is_namespace || x.items.size() != y.items.size()) return false;
      for (auto& [k, v] : x.items) {
        const Value* other = y.find(k);
        if (!other || !values_equal(v, *other)) return false;
      }
      return true;
    }
    case T::Callable: return &a.as_callable() == &b.as_callable();
    default: return false;
  }
}

bool values_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list() && a.as_list().tuple == b.as_list().tuple && !a.as_list().generator &&
      !b.as_list().generator) {
    auto& x = a.as_list().items;
    auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!values_equal(x[i], y[i])) return values_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  throw std::invalid_argument("'<' not supported between instances of '" + a.type_name() + "' and '" +
                              b.type_name() + "'");
}

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

std::string to_repr(const Value& v) {
  using T = Value::Type;
  switch (v.type()) {
    case T::String: return v.is_markup() ? "Markup(" + string_repr(v.as_string()) + ")" : string_repr(v.as_string());
    case T::List: {
      auto& l = v.as_list();
      if (l.generator) return "<generator object>";
      std::string out = l.tuple ? "(" : "[";
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        out += to_repr(l.items[i]);
      }
      if (l.tuple && l.items.size() == 1) out += ",";
      return out + (l.tuple ? ")" : "]");
    }
    case T::Dict: {
      auto& d = v.as_dict();
      std::string out = d.is_namespace ? "<Namespace {" : "{";
      bool first = true;
      for (auto& [k, val] : d.items) {
        if (!first) out += ", ";
        first = false;
        out += to_repr(k) + ": " + to_repr(val);
      }
      return out + (d.is_namespace ? "}>" : "}");
    }
    case T::Undefined: return "Undefined";  // Jinja's Undefined.__repr__ (inside printed lists)
    default: return to_str(v);
  }
}

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

Value from_json(const nlohmann::ordered_json& j) {
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
      std::vector<Value> items;
      items.reserve(j.size());
      for (auto& e : j) items.push_back(from_json(e));
      return Value::list(std::move(items));
    }
    case J::object: {
      Value d = Value::dict();
      auto& obj = d.as_dict();
      obj.items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) obj.items.emplace_back(Value(it.key()), from_json(it.value()));
      return d;
    }
    default: return Value::none();  // binary / discarded: not produced by JSON text
  }
}

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
  if (depth > 500) throw std::invalid_argument("tojson: value nested too deeply");
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
