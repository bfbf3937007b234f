#include "jinja/operations.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "jinja/builtins.hpp"
#include "jinja/utf8.hpp"

namespace allm::jinja {

using std::runtime_error;

void fail_undefined(const Value& undefined) {
  const std::string& hint = undefined.undefined_hint();
  throw runtime_error(hint.empty() ? "value is undefined" : hint);
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  return v.type_name() + " object";
}

static Value missing_attribute(const Value& obj, const std::string& name) {
  std::string hint = "'";
  hint += object_type_repr(obj);
  hint += "' has no attribute '" + name + "'";
  return Value::undefined(hint);
}

std::vector<Value> iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: return {};
    case Value::Type::List: {
      ListObj& l = v.as_list();
      if (!l.generator) {
        check_memory(l.items.size() * sizeof(Value));
        return l.items;
      }
      if (!l.deferred_error.empty()) throw runtime_error(l.deferred_error);
      return std::move(l.items);  // a generator is spent once iterated
    }
    case Value::Type::Dict: {
      if (v.as_dict().is_namespace) break;
      std::vector<Value> keys;
      for (auto& kv : v.as_dict().items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Type::String: {
      check_memory(v.as_string().size() * sizeof(Value));
      std::vector<Value> chars;
      for (auto c : utf8::chars(v.as_string())) chars.emplace_back(std::string(c));
      return chars;
    }
    default: break;
  }
  throw runtime_error("'" + v.type_name() + "' object is not iterable");
}

// A named tuple's field, if `obj` is one and has `name`.
static const Value* named_field(const Value& obj, const std::string& name) {
  if (!obj.is_list() || obj.as_list().fields.empty()) return nullptr;
  auto& fields = obj.as_list().fields;
  for (size_t i = 0; i < fields.size() && i < obj.as_list().items.size(); ++i)
    if (fields[i] == name) return &obj.as_list().items[i];
  return nullptr;
}

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (const Value* field = named_field(obj, name)) return *field;
  if (obj.is_dict() && obj.as_dict().is_namespace) {
    if (const Value* v = obj.as_dict().find(Value(name))) return *v;
    return missing_attribute(obj, name);
  }
  if (auto method = bound_method(obj, name)) return *method;
  if (obj.is_dict())
    if (const Value* v = obj.as_dict().find(Value(name))) return *v;
  return missing_attribute(obj, name);
}

// Python index normalisation; nullopt when out of range.
static std::optional<size_t> normalize_index(int64_t index, size_t size) {
  int64_t n = static_cast<int64_t>(size);
  if (index < 0) index += n;
  if (index < 0 || index >= n) return std::nullopt;
  return static_cast<size_t>(index);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  // An Undefined key finds nothing (Python's lookup fails, Jinja turns that
  // into an Undefined): `map[x.missing] is defined` is false, not an error.
  if (key.is_undefined()) return Value::undefined(object_type_repr(obj) + " has no element Undefined");
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(key)) return *v;
  } else if (obj.is_list() && !obj.as_list().generator && key.is_integral()) {
    auto& items = obj.as_list().items;
    if (auto i = normalize_index(key.as_int(), items.size())) return items[*i];
  } else if (obj.is_string() && key.is_integral()) {
    auto chars = utf8::chars(obj.as_string());
    if (auto i = normalize_index(key.as_int(), chars.size())) {
      std::string ch(chars[*i]);
      return obj.is_markup() ? Value::markup(std::move(ch)) : Value(std::move(ch));
    }
  }
  if (key.is_string()) {
    if (const Value* field = named_field(obj, key.as_string())) return *field;
    if (obj.is_dict() && obj.as_dict().is_namespace) return missing_attribute(obj, key.as_string());
    if (auto method = bound_method(obj, key.as_string())) return *method;
    return missing_attribute(obj, key.as_string());
  }
  // Jinja quotes the object's type for a missing attribute, not here.
  return Value::undefined(object_type_repr(obj) + " has no element " + to_repr(key));
}

Value get_slice(const Value& obj, const Value* start_v, const Value* stop_v, const Value* step_v, size_t size_limit) {
  if (obj.is_undefined()) fail_undefined(obj);
  auto as_opt = [](const Value* v) -> std::optional<int64_t> {
    if (!v || v->is_none() || v->is_undefined()) return std::nullopt;
    if (!v->is_integral()) throw runtime_error("slice indices must be integers or None");
    return v->as_int();
  };
  int64_t step = as_opt(step_v).value_or(1);
  if (step == 0) throw runtime_error("slice step cannot be zero");
  std::vector<std::string_view> chars;
  size_t n;
  if (obj.is_string()) {
    chars = utf8::chars(obj.as_string());
    n = chars.size();
  } else if (obj.is_list() && !obj.as_list().generator) {
    n = obj.as_list().items.size();
  } else if (obj.is_dict()) {
    throw runtime_error("unhashable type: 'slice'");
  } else {
    throw runtime_error("'" + obj.type_name() + "' object is not subscriptable");
  }
  int64_t len = static_cast<int64_t>(n);
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) x += len;
    if (step > 0) return std::min(std::max<int64_t>(x, 0), len);
    return std::min(std::max<int64_t>(x, -1), len - 1);
  };
  int64_t start = clamp(as_opt(start_v), step > 0 ? 0 : len - 1);
  int64_t stop = clamp(as_opt(stop_v), step > 0 ? len : -1);
  std::vector<size_t> picks;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) picks.push_back(static_cast<size_t>(i));
  if (obj.is_string()) {
    std::string out;
    for (size_t i : picks) out += chars[i];
    return obj.is_markup() ? Value::markup(std::move(out)) : Value(std::move(out));
  }
  std::vector<Value> items;
  items.reserve(picks.size());
  for (size_t i : picks) items.push_back(obj.as_list().items[i]);
  (void)size_limit;
  return Value::list(std::move(items), obj.as_list().tuple);
}

std::optional<int64_t> length(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: return 0;
    case Value::Type::String: return static_cast<int64_t>(utf8::length(v.as_string()));
    case Value::Type::List:
      if (v.as_list().generator) return std::nullopt;
      return static_cast<int64_t>(v.as_list().items.size());
    case Value::Type::Dict:
      if (v.as_dict().is_namespace) return std::nullopt;
      return static_cast<int64_t>(v.as_dict().items.size());
    default: return std::nullopt;
  }
}

std::optional<int64_t> parse_int(const std::string& s, int base) {
  std::string t;
  size_t b = s.find_first_not_of(" \t\n\r\f\v"), e = s.find_last_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return std::nullopt;
  for (size_t i = b; i <= e; ++i) {
    if (s[i] == '_') {
      if (i == b || i == e || !std::isalnum(static_cast<unsigned char>(s[i - 1]))) return std::nullopt;
      continue;
    }
    t += s[i];
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(t.c_str(), &end, base);
  if (errno || end == t.c_str() || *end) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> parse_float(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n\r\f\v"), e = s.find_last_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return std::nullopt;
  std::string t = s.substr(b, e - b + 1);
  char* end = nullptr;
  double d = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || *end) return std::nullopt;
  return d;
}

static std::string operand_error(const std::string& op, const Value& a, const Value& b) {
  return "unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'";
}

static void check_size(size_t size, size_t limit) {
  if (size > limit) throw runtime_error("value exceeds the output limit of " + std::to_string(limit) + " bytes");
  check_memory(size);
}

// A list's size in bytes for the limits: its item slots (strings inside the
// items are counted by the budget as they are copied in).
static size_t list_bytes(uint64_t items) {
  return items > SIZE_MAX / sizeof(Value) ? SIZE_MAX : static_cast<size_t>(items) * sizeof(Value);
}

static Value repeat(const Value& seq, int64_t times, size_t limit) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(times) > limit / s.size()) check_size(limit + 1, limit);
    check_size(s.size() * static_cast<size_t>(times), limit);
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    return Value(std::move(out));
  }
  auto& items = seq.as_list().items;
  if (!items.empty() && static_cast<uint64_t>(times) > limit / list_bytes(items.size())) check_size(limit + 1, limit);
  check_size(list_bytes(items.size() * static_cast<uint64_t>(times)), limit);
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.as_list().tuple);
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// printf-style `"..." % args`, the conversions templates use.
static std::string percent_format(const std::string& fmt, const Value& args) {
  // Python: a tuple supplies the arguments; anything else is the single
  // argument, and a subscriptable one (dict, list) also serves %(name)s and
  // silences the "not all arguments converted" check.
  std::vector<Value> seq;
  bool tuple = args.is_list() && args.as_list().tuple;
  bool mapping = (args.is_dict() && !args.as_dict().is_namespace) || (args.is_list() && !tuple);
  if (tuple) seq = args.as_list().items;
  else seq.push_back(args);
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) throw runtime_error("incomplete format");
    Value arg;
    bool have_arg = false;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos || !args.is_dict()) throw runtime_error("format requires a mapping");
      const Value* v = args.as_dict().find(Value(fmt.substr(i + 1, close - i - 1)));
      if (!v) throw runtime_error("KeyError: '" + fmt.substr(i + 1, close - i - 1) + "'");
      arg = *v;
      have_arg = true;
      i = close + 1;
    }
    std::string spec = "%";
    while (i < fmt.size() && std::string("-+ 0#").find(fmt[i]) != std::string::npos) spec += fmt[i++];
    while (i < fmt.size() && (std::isdigit(static_cast<unsigned char>(fmt[i])) || fmt[i] == '.')) spec += fmt[i++];
    if (i >= fmt.size()) throw runtime_error("incomplete format");
    char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!have_arg) {
      if (next >= seq.size()) throw runtime_error("not enough arguments for format string");
      arg = seq[next++];
    }
    char buf[512];
    switch (conv) {
      case 's':
      case 'r':
      case 'c': {
        std::string s;
        if (conv == 'c') {
          // %c: a code point number or a one-character string.
          if (arg.is_integral()) {
            if (arg.as_int() < 0 || arg.as_int() > 0x10FFFF) throw runtime_error("%c arg not in range(0x110000)");
            utf8::append(s, static_cast<uint32_t>(arg.as_int()));
          } else if (arg.is_string() && utf8::length(arg.as_string()) == 1) {
            s = arg.as_string();
          } else {
            throw runtime_error("%c requires an int or a unicode character, not " + arg.type_name());
          }
        } else {
          s = conv == 's' ? str_of(arg) : to_repr(arg);
        }
        // "%-8.3s": flags, then the width, then a precision that cuts the text.
        bool left = spec.find('-') != std::string::npos;
        size_t dot = spec.find('.');
        std::string width_part = spec.substr(0, dot);
        size_t digits = width_part.find_first_of("123456789");
        size_t width = digits == std::string::npos ? 0 : std::strtoul(width_part.c_str() + digits, nullptr, 10);
        if (dot != std::string::npos && conv != 'c') {
          size_t precision = std::strtoul(spec.c_str() + dot + 1, nullptr, 10);
          auto chars = utf8::chars(s);
          if (chars.size() > precision) {
            std::string cut;
            for (size_t k = 0; k < precision; ++k) cut += chars[k];
            s = cut;
          }
        }
        size_t len = utf8::length(s);
        if (width > 4096) throw runtime_error("format width too large");
        std::string pad(width > len ? width - len : 0, ' ');
        out += left ? s + pad : pad + s;
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o': {
        bool decimal = conv == 'd' || conv == 'i';
        if (decimal ? !arg.is_number() : !arg.is_integral())
          throw runtime_error("%" + std::string(1, conv) + " format: " + (decimal ? "a real number" : "an integer") +
                              " is required, not " + arg.type_name());
        if (arg.is_float()) {
          double d = std::trunc(arg.as_double());
          if (std::isnan(d)) throw runtime_error("cannot convert float NaN to integer");
          if (std::isinf(d)) throw runtime_error("cannot convert float infinity to integer");
          if (std::fabs(d) >= 9.2e18) {  // beyond int64: Python's int is exact, so is the double
            std::snprintf(buf, sizeof buf, (spec + ".0f").c_str(), d);
            out += buf;
            break;
          }
        }
        long long v = arg.is_float() ? static_cast<long long>(arg.as_double()) : arg.as_int();
        if (!decimal && v < 0) {
          // Python prints a negative hex/octal number as '-' and its magnitude.
          std::string flags = spec.substr(1);
          bool left = flags.find('-') != std::string::npos;
          bool zero = !left && flags.find_first_of("0") == flags.find_first_not_of("-+ #");
          std::string digits_part = flags.substr(flags.find_first_not_of("-+ #0") == std::string::npos ? flags.size() : flags.find_first_not_of("-+ #0"));
          size_t width = std::strtoul(digits_part.c_str(), nullptr, 10);
          if (width > 4096) throw runtime_error("format width too large");
          std::snprintf(buf, sizeof buf, (std::string("%ll") + conv).c_str(), 0ULL - static_cast<unsigned long long>(v));
          std::string body = buf;
          if (flags.find('#') != std::string::npos) body = std::string(conv == 'o' ? "0o" : conv == 'x' ? "0x" : "0X") + body;
          size_t len = body.size() + 1;
          if (zero && width > len) body.insert(0, std::string(width - len, '0'));
          body.insert(0, "-");
          if (width > body.size()) body = left ? body + std::string(width - body.size(), ' ') : std::string(width - body.size(), ' ') + body;
          out += body;
          break;
        }
        std::snprintf(buf, sizeof buf, (spec + "ll" + (conv == 'i' ? 'd' : conv)).c_str(), v);
        out += buf;
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (!arg.is_number()) throw runtime_error("must be real number, not " + arg.type_name());
        std::snprintf(buf, sizeof buf, (spec + conv).c_str(), arg.as_double());
        out += buf;
        break;
      }
      default: throw runtime_error(std::string("unsupported format character '") + conv + "'");
    }
  }
  if (!mapping && next < seq.size()) throw runtime_error("not all arguments converted during string formatting");
  return out;
}

// Markup % args escapes what the arguments print as (markupsafe wraps each
// one in an escaping helper); numbers stay numbers for %d and %f.
static Value escape_format_args(const Value& args) {
  auto escape_one = [](const Value& v) { return v.is_number() ? v : html_escape(v); };
  if (args.is_list() && args.as_list().tuple) {
    std::vector<Value> items;
    for (auto& item : args.as_list().items) items.push_back(escape_one(item));
    return Value::list(std::move(items), true);
  }
  if (args.is_dict()) {
    Value d = Value::dict();
    for (auto& [k, v] : args.as_dict().items) d.as_dict().set(k, escape_one(v));
    return d;
  }
  return escape_one(args);
}

Value binary_op(const std::string& op, const Value& a, const Value& b, size_t limit) {
  if (op == "~") {
    std::string s = str_of(a) + str_of(b);
    check_size(s.size(), limit);
    return Value(std::move(s));
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  bool ints = a.is_integral() && b.is_integral();
  bool nums = a.is_number() && b.is_number();
  int64_t r = 0;
  if (op == "+") {
    if (ints) {
      if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) throw runtime_error("integer overflow");
      return Value(r);
    }
    if (nums) return Value(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      check_size(a.as_string().size() + b.as_string().size(), limit);
      // Markup + str and str + Markup escape the plain side (markupsafe's
      // __add__ / __radd__).
      if (a.is_markup() || b.is_markup()) {
        std::string s = html_escape(a).as_string() + html_escape(b).as_string();
        check_size(s.size(), limit);
        return Value::markup(std::move(s));
      }
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_markup() || b.is_markup()) throw runtime_error(operand_error(op, a, b));
    if (a.is_list() && b.is_list() && a.as_list().tuple == b.as_list().tuple && !a.as_list().generator &&
        !b.as_list().generator) {
      check_size(list_bytes(a.as_list().items.size() + b.as_list().items.size()), limit);
      std::vector<Value> items = a.as_list().items;
      items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
      return Value::list(std::move(items), a.as_list().tuple);
    }
    if (a.is_string()) throw runtime_error("can only concatenate str (not \"" + b.type_name() + "\") to str");
    if (a.is_list()) throw runtime_error("can only concatenate " + a.type_name() + " (not \"" + b.type_name() + "\") to " + a.type_name());
    throw runtime_error(operand_error(op, a, b));
  }
  if (op == "-") {
    if (ints) {
      if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) throw runtime_error("integer overflow");
      return Value(r);
    }
    if (nums) return Value(a.as_double() - b.as_double());
    throw runtime_error(operand_error(op, a, b));
  }
  if (op == "*") {
    if (ints) {
      if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) throw runtime_error("integer overflow");
      return Value(r);
    }
    if (nums) return Value(a.as_double() * b.as_double());
    auto repeatable = [](const Value& v) { return v.is_string() || (v.is_list() && !v.as_list().generator); };
    auto keep_markup = [](const Value& seq, Value out) {
      return seq.is_markup() ? Value::markup(out.as_string()) : out;
    };
    if (repeatable(a) && b.is_integral()) return keep_markup(a, repeat(a, b.as_int(), limit));
    if (repeatable(b) && a.is_integral()) return keep_markup(b, repeat(b, a.as_int(), limit));
    throw runtime_error(operand_error(op, a, b));
  }
  if (op == "/") {
    if (!nums) throw runtime_error(operand_error(op, a, b));
    if (b.as_double() == 0) throw runtime_error("division by zero");
    return Value(a.as_double() / b.as_double());
  }
  if (op == "//") {
    if (!nums) throw runtime_error(operand_error(op, a, b));
    if (b.as_double() == 0) throw runtime_error("integer division or modulo by zero");
    if (ints) {
      if (a.as_int() == INT64_MIN && b.as_int() == -1) throw runtime_error("integer overflow");
      return Value(floor_div(a.as_int(), b.as_int()));
    }
    return Value(std::floor(a.as_double() / b.as_double()));
  }
  if (op == "%") {
    if (a.is_markup()) return Value::markup(percent_format(a.as_string(), escape_format_args(b)));
    if (a.is_string()) return Value(percent_format(a.as_string(), b));
    if (!nums) throw runtime_error(operand_error(op, a, b));
    if (b.as_double() == 0) throw runtime_error("integer division or modulo by zero");
    if (ints) {
      if (b.as_int() == -1) return Value(int64_t{0});
      int64_t m = a.as_int() % b.as_int();
      if (m != 0 && ((m < 0) != (b.as_int() < 0))) m += b.as_int();
      return Value(m);
    }
    double m = std::fmod(a.as_double(), b.as_double());
    if (m != 0 && ((m < 0) != (b.as_double() < 0))) m += b.as_double();
    return Value(m);
  }
  if (op == "**") {
    if (!nums) throw runtime_error(operand_error(op, a, b));
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), result = 1;
      for (int64_t e = b.as_int(); e > 0; --e) {
        if (__builtin_mul_overflow(result, base, &result)) throw runtime_error("integer overflow");
        if (result == 0 || result == 1) break;
        if (result == -1) {
          result = (e % 2 == 1) ? -1 : 1;
          break;
        }
      }
      return Value(result);
    }
    return Value(std::pow(a.as_double(), b.as_double()));
  }
  throw runtime_error("unknown operator " + op);
}

Value unary_op(const std::string& op, const Value& v) {
  if (op == "not") return Value(!v.truthy());
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_number()) throw runtime_error("bad operand type for unary " + op + ": '" + v.type_name() + "'");
  if (op == "+") return v.is_float() ? v : Value(v.as_int());
  if (v.is_float()) return Value(-v.as_double());
  if (v.as_int() == INT64_MIN) throw runtime_error("integer overflow");
  return Value(-v.as_int());
}

bool contains(const Value& container, const Value& item) {
  switch (container.type()) {
    case Value::Type::Undefined: return false;
    case Value::Type::String:
      if (!item.is_string())
        throw runtime_error("'in <string>' requires string as left operand, not " + item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Type::List:
      for (auto& v : iterate(container))
        if (values_equal(v, item)) return true;
      return false;
    case Value::Type::Dict:
      if (container.as_dict().is_namespace) break;
      return container.as_dict().find(item) != nullptr;
    default: break;
  }
  throw runtime_error("argument of type '" + container.type_name() + "' is not iterable");
}

bool compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return values_equal(a, b);
  if (op == "!=") return !values_equal(a, b);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  try {
    if (op == "<") return values_less(a, b);
    if (op == ">") return values_less(b, a);
    if (op == "<=") return !values_less(b, a);
    if (op == ">=") return !values_less(a, b);
  } catch (const std::invalid_argument&) {
    throw runtime_error("'" + op + "' not supported between instances of '" + a.type_name() + "' and '" +
                        b.type_name() + "'");
  }
  throw runtime_error("unknown comparison " + op);
}

}  // namespace allm::jinja
