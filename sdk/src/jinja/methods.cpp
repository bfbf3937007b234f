// Python methods of str, dict and list that templates call (`s.strip()`,
// `d.items()`, `l.index(x)`). Mutating methods are refused as transformers'
// ImmutableSandboxedEnvironment refuses them.
#include <algorithm>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "jinja/builtins.hpp"
#include "jinja/interpreter.hpp"
#include "jinja/operations.hpp"
#include "jinja/text.hpp"
#include "jinja/utf8.hpp"

namespace allm::jinja {
namespace {

using std::runtime_error;
using Method = Value (*)(const Value& self, CallArgs& a, Interpreter& in);

std::string str_param(CallArgs& a, size_t i, const char* name, const char* method) {
  const Value* v = a.get(i, name);
  if (!v) throw runtime_error(std::string(method) + "() missing argument '" + name + "'");
  if (!v->is_string()) throw runtime_error(std::string(method) + "() argument must be str, not " + v->type_name());
  return v->as_string();
}

// Optional chars argument of strip(); nullopt means whitespace.
std::optional<std::string> chars_param(CallArgs& a, const char* method) {
  const Value* v = a.get(0, "chars");
  a.expect_no_more(method);
  if (!v || v->is_none()) return std::nullopt;
  if (!v->is_string()) throw runtime_error(std::string(method) + " arg must be None or str");
  return v->as_string();
}

int64_t cp_index(const std::string& s, size_t byte_offset) {
  return static_cast<int64_t>(utf8::length(std::string_view(s).substr(0, byte_offset)));
}

Value m_strip(const Value& s, CallArgs& a, Interpreter&) {
  auto c = chars_param(a, "strip");
  return Value(text::strip(s.as_string(), c ? &*c : nullptr, true, true));
}
Value m_lstrip(const Value& s, CallArgs& a, Interpreter&) {
  auto c = chars_param(a, "lstrip");
  return Value(text::strip(s.as_string(), c ? &*c : nullptr, true, false));
}
Value m_rstrip(const Value& s, CallArgs& a, Interpreter&) {
  auto c = chars_param(a, "rstrip");
  return Value(text::strip(s.as_string(), c ? &*c : nullptr, false, true));
}

Value split_impl(const Value& s, CallArgs& a, bool right) {
  const Value* sep = a.get(0, "sep");
  int64_t maxsplit = int_arg(a.get(1, "maxsplit"), -1, "maxsplit");
  a.expect_no_more(right ? "rsplit" : "split");
  std::optional<std::string> sep_s;
  if (sep && !sep->is_none()) {
    if (!sep->is_string()) throw runtime_error("must be str or None, not " + sep->type_name());
    sep_s = sep->as_string();
  }
  std::vector<Value> out;
  for (auto& p : text::split(s.as_string(), sep_s ? &*sep_s : nullptr, maxsplit, right)) out.emplace_back(p);
  return Value::list(std::move(out));
}
Value m_split(const Value& s, CallArgs& a, Interpreter&) { return split_impl(s, a, false); }
Value m_rsplit(const Value& s, CallArgs& a, Interpreter&) { return split_impl(s, a, true); }

Value affix_impl(const Value& s, CallArgs& a, bool prefix) {
  const char* name = prefix ? "startswith" : "endswith";
  const Value* what = a.get(0, nullptr);
  a.expect_no_more(name);
  if (!what) throw runtime_error(std::string(name) + "() takes at least 1 argument (0 given)");
  std::vector<Value> options = what->is_list() && what->as_list().tuple ? what->as_list().items : std::vector<Value>{*what};
  const std::string& str = s.as_string();
  for (auto& o : options) {
    if (!o.is_string())
      throw runtime_error(std::string(name) + " first arg must be str or a tuple of str, not " + o.type_name());
    const std::string& x = o.as_string();
    if (x.size() > str.size()) continue;
    if (prefix ? str.compare(0, x.size(), x) == 0 : str.compare(str.size() - x.size(), x.size(), x) == 0) return Value(true);
  }
  return Value(false);
}
Value m_startswith(const Value& s, CallArgs& a, Interpreter&) { return affix_impl(s, a, true); }
Value m_endswith(const Value& s, CallArgs& a, Interpreter&) { return affix_impl(s, a, false); }

// str.replace(old, new, count) takes the same arguments as the filter.
Value m_replace(const Value& s, CallArgs& a, Interpreter& in) { return in.apply_filter("replace", s, a); }

Value m_upper(const Value& s, CallArgs& a, Interpreter&) { a.expect_no_more("upper"); return Value(text::upper(s.as_string())); }
Value m_lower(const Value& s, CallArgs& a, Interpreter&) { a.expect_no_more("lower"); return Value(text::lower(s.as_string())); }
Value m_title(const Value& s, CallArgs& a, Interpreter&) { a.expect_no_more("title"); return Value(text::python_title(s.as_string())); }
Value m_capitalize(const Value& s, CallArgs& a, Interpreter&) { a.expect_no_more("capitalize"); return Value(text::capitalize(s.as_string())); }
Value m_swapcase(const Value& s, CallArgs& a, Interpreter&) {
  a.expect_no_more("swapcase");
  std::string out;
  for (uint32_t cp : utf8::code_points(s.as_string()))
    utf8::append(out, text::is_upper(cp) ? text::to_lower(cp) : text::is_lower(cp) ? text::to_upper(cp) : cp);
  return Value(out);
}

Value find_impl(const Value& s, CallArgs& a, bool right, bool raise, const char* name) {
  std::string sub = str_param(a, 0, "sub", name);
  a.expect_no_more(name);
  const std::string& str = s.as_string();
  size_t f = right ? str.rfind(sub) : str.find(sub);
  if (f == std::string::npos) {
    if (raise) throw runtime_error("substring not found");
    return Value(int64_t{-1});
  }
  return Value(cp_index(str, f));
}
Value m_find(const Value& s, CallArgs& a, Interpreter&) { return find_impl(s, a, false, false, "find"); }
Value m_rfind(const Value& s, CallArgs& a, Interpreter&) { return find_impl(s, a, true, false, "rfind"); }
Value m_sindex(const Value& s, CallArgs& a, Interpreter&) { return find_impl(s, a, false, true, "index"); }
Value m_rindex(const Value& s, CallArgs& a, Interpreter&) { return find_impl(s, a, true, true, "rindex"); }

Value m_scount(const Value& s, CallArgs& a, Interpreter&) {
  std::string sub = str_param(a, 0, "sub", "count");
  a.expect_no_more("count");
  const std::string& str = s.as_string();
  if (sub.empty()) return Value(static_cast<int64_t>(utf8::length(str)) + 1);
  int64_t n = 0;
  for (size_t p = str.find(sub); p != std::string::npos; p = str.find(sub, p + sub.size())) ++n;
  return Value(n);
}

// str.format with {}, {0}, {name}, attribute-free fields, !r/!s and a
// [[fill]align][width][.precision][type] spec.
Value m_format(const Value& s, CallArgs& a, Interpreter& in) {
  const std::string& fmt = s.as_string();
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '}' ) {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') ++i;
      else throw runtime_error("Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = fmt.find('}', i);
    if (close == std::string::npos) throw runtime_error("Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    std::string spec, conv;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field.resize(bang);
    }
    Value arg;
    if (field.empty()) {
      if (auto_index >= a.positional.size()) throw runtime_error("Replacement index " + std::to_string(auto_index) + " out of range");
      arg = a.positional[auto_index++];
    } else if (auto idx = parse_int(field)) {
      if (*idx < 0 || static_cast<size_t>(*idx) >= a.positional.size()) throw runtime_error("Replacement index " + field + " out of range");
      arg = a.positional[static_cast<size_t>(*idx)];
    } else {
      bool found = false;
      for (auto& [k, v] : a.keyword)
        if (k == field) {
          arg = v;
          found = true;
        }
      if (!found) throw runtime_error("KeyError: '" + field + "'");
    }
    std::string rendered;
    char type = spec.empty() ? 0 : spec.back();
    int precision = -1;
    if (size_t dot = spec.find('.'); dot != std::string::npos) precision = std::atoi(spec.c_str() + dot + 1);
    if (!spec.empty() && conv.empty()) {
      // Python's __format__ under a spec: a bool formats as its int; None,
      // containers and Undefined refuse any spec; type codes must suit.
      if (arg.is_bool()) arg = Value(arg.as_int());
      if (arg.is_list() || arg.is_dict() || arg.is_none() || arg.is_undefined() || arg.is_callable())
        throw runtime_error("unsupported format string passed to " + arg.type_name() + ".__format__");
      bool typed = std::isalpha(static_cast<unsigned char>(type)) || type == '%';
      if (arg.is_string() && typed && type != 's')
        throw runtime_error(std::string("Unknown format code '") + type + "' for object of type 'str'");
      if (arg.is_string() && (spec.find(',') != std::string::npos || spec.find('_') != std::string::npos))
        throw runtime_error(std::string("Cannot specify '") + (spec.find(',') != std::string::npos ? ',' : '_') + "' with 's'.");
      if (arg.is_float() && typed && std::string("dxXobc").find(type) != std::string::npos)
        throw runtime_error(std::string("Unknown format code '") + type + "' for object of type 'float'");
      if (arg.is_int() && precision >= 0 && (!typed || std::string("dxXobcn").find(type) != std::string::npos))
        throw runtime_error("Precision not allowed in integer format specifier");
    }
    if (conv == "r") rendered = to_repr(arg);
    else if (arg.is_int() && (type == 'x' || type == 'X' || type == 'o' || type == 'b')) {
      uint64_t mag = arg.as_int() < 0 ? 0 - static_cast<uint64_t>(arg.as_int()) : static_cast<uint64_t>(arg.as_int());
      unsigned base = type == 'o' ? 8 : type == 'b' ? 2 : 16;
      const char* digits = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
      do {
        rendered.insert(rendered.begin(), digits[mag % base]);
        mag /= base;
      } while (mag);
      if (arg.as_int() < 0) rendered.insert(rendered.begin(), '-');
    } else if (arg.is_int() && (spec.find(',') != std::string::npos || spec.find('_') != std::string::npos)) {
      // "{:,}": thousands separators.
      char sep = spec.find(',') != std::string::npos ? ',' : '_';
      std::string digits = std::to_string(arg.as_int() < 0 ? 0 - static_cast<uint64_t>(arg.as_int()) : static_cast<uint64_t>(arg.as_int()));
      for (size_t k = 0; k < digits.size(); ++k) {
        if (k && (digits.size() - k) % 3 == 0) rendered += sep;
        rendered += digits[k];
      }
      if (arg.as_int() < 0) rendered.insert(rendered.begin(), '-');
    }
    else if ((type == 'f' || type == 'e' || type == 'g' || type == '%') && arg.is_number()) {
      char buf[128];
      double d = arg.as_double() * (type == '%' ? 100 : 1);
      std::snprintf(buf, sizeof buf, (std::string("%.") + std::to_string(precision < 0 ? 6 : std::min(precision, 60)) + (type == '%' ? 'f' : type)).c_str(), d);
      rendered = buf;
      if (type == '%') rendered += '%';
    } else if (type == 'd' && arg.is_integral()) {
      rendered = std::to_string(arg.as_int());
    } else {
      rendered = str_of(arg);
      if (precision >= 0 && arg.is_string()) {
        auto chars = utf8::chars(rendered);
        std::string cut;
        for (size_t k = 0; k < chars.size() && k < static_cast<size_t>(precision); ++k) cut += chars[k];
        rendered = cut;
      }
    }
    // Alignment and width.
    std::string head = spec;
    if (size_t dot = head.find('.'); dot != std::string::npos) head.resize(dot);
    while (!head.empty() && std::isalpha(static_cast<unsigned char>(head.back())) ) head.pop_back();
    char fill = ' ', align = arg.is_number() ? '>' : '<';
    if (head.size() >= 2 && (head[1] == '<' || head[1] == '>' || head[1] == '^')) {
      fill = head[0];
      align = head[1];
      head.erase(0, 2);
    } else if (!head.empty() && (head[0] == '<' || head[0] == '>' || head[0] == '^')) {
      align = head[0];
      head.erase(0, 1);
    }
    if (!head.empty() && (head[0] == '+' || head[0] == ' ' || head[0] == '-')) {  // sign of numbers
      if (head[0] != '-' && arg.is_number() && !rendered.empty() && rendered[0] != '-') rendered.insert(rendered.begin(), head[0]);
      head.erase(0, 1);
    }
    bool zero_pad = false;
    if (!head.empty() && head[0] == '0' && fill == ' ') {  // "{:05.1f}": zero padding
      fill = '0';
      align = '>';
      zero_pad = true;
    }
    size_t width = head.empty() ? 0 : std::strtoul(head.c_str(), nullptr, 10);
    if (width > 4096) throw runtime_error("format width too large");
    size_t len = utf8::length(rendered);
    if (width > len) {
      size_t pad = width - len;
      if (zero_pad && arg.is_number() && !rendered.empty() && (rendered[0] == '-' || rendered[0] == '+' || rendered[0] == ' ')) {
        rendered.insert(1, std::string(pad, '0'));  // "-0002": zeros go after the sign
      } else {
        size_t left = align == '>' ? pad : align == '^' ? pad / 2 : 0;
        rendered = std::string(left, fill) + rendered + std::string(pad - left, fill);
      }
    }
    out += rendered;
    in.check_size(out.size());
  }
  return Value(out);
}

Value m_splitlines(const Value& s, CallArgs& a, Interpreter&) {
  const Value* keep = a.get(0, "keepends");
  a.expect_no_more("splitlines");
  std::vector<Value> out;
  for (auto& l : text::splitlines(s.as_string(), keep && keep->truthy())) out.emplace_back(l);
  return Value::list(std::move(out));
}

template <bool (*Pred)(uint32_t)>
Value char_class(const Value& s, CallArgs& a, Interpreter&) {
  a.expect_no_more("is...");
  auto cps = utf8::code_points(s.as_string());
  if (cps.empty()) return Value(false);
  for (uint32_t cp : cps)
    if (!Pred(cp)) return Value(false);
  return Value(true);
}
bool space_pred(uint32_t cp) { return utf8::is_space(cp); }

Value m_islower(const Value& s, CallArgs& a, Interpreter& in) { return Value(in.apply_test("lower", s, a)); }
Value m_isupper(const Value& s, CallArgs& a, Interpreter& in) { return Value(in.apply_test("upper", s, a)); }

Value m_isascii(const Value& s, CallArgs& a, Interpreter&) {
  a.expect_no_more("isascii");
  for (unsigned char c : s.as_string())
    if (c >= 0x80) return Value(false);
  return Value(true);
}

// str.istitle: upper-case letters only after uncased characters, lower-case
// ones only after cased characters, and at least one cased character.
Value m_istitle(const Value& s, CallArgs& a, Interpreter&) {
  a.expect_no_more("istitle");
  bool prev_cased = false, any = false;
  for (uint32_t cp : utf8::code_points(s.as_string())) {
    bool up = text::is_upper(cp), low = text::is_lower(cp);
    if ((up && prev_cased) || (low && !prev_cased)) return Value(false);
    prev_cased = up || low;
    any = any || prev_cased;
  }
  return Value(any);
}

Value m_expandtabs(const Value& s, CallArgs& a, Interpreter&) {
  int64_t tabsize = int_arg(a.get(0, "tabsize"), 8, "tabsize");
  a.expect_no_more("expandtabs");
  std::string out;
  int64_t column = 0;
  for (auto ch : utf8::chars(s.as_string())) {
    if (ch == "\t") {
      int64_t spaces = tabsize > 0 ? tabsize - column % tabsize : 0;
      out.append(static_cast<size_t>(spaces), ' ');
      column += spaces;
    } else {
      out += ch;
      column = (ch == "\n" || ch == "\r") ? 0 : column + 1;
    }
  }
  return Value(std::move(out));
}

// str.format_map(mapping): format with the mapping's entries as names.
Value m_format_map(const Value& s, CallArgs& a, Interpreter& in) {
  const Value* mapping = a.get(0, nullptr);
  a.expect_no_more("format_map");
  if (!mapping) throw runtime_error("format_map() takes exactly one argument (0 given)");
  if (!mapping->is_dict()) throw runtime_error("'" + mapping->type_name() + "' object is not a mapping");
  CallArgs named;
  for (auto& [k, v] : mapping->as_dict().items)
    if (k.is_string()) named.keyword.emplace_back(k.as_string(), v);
  return m_format(s, named, in);
}

Value m_join(const Value& s, CallArgs& a, Interpreter& in) {
  const Value* items = a.get(0, nullptr);
  a.expect_no_more("join");
  if (!items) throw runtime_error("join() takes exactly one argument (0 given)");
  std::string out;
  size_t index = 0;
  for (auto& item : iterate(*items)) {
    if (!item.is_string())
      throw runtime_error("sequence item " + std::to_string(index) + ": expected str instance, " + item.type_name() + " found");
    if (index++ > 0) out += s.as_string();
    out += item.as_string();
    in.check_size(out.size());
  }
  return Value(out);
}

Value pad_impl(const Value& s, CallArgs& a, Interpreter& in, char align, const char* name) {
  int64_t width = int_arg(a.get(0, "width"), 0, "width");
  std::string fill = a.get(1, "fillchar") ? str_of(*a.get(1, "fillchar")) : " ";
  a.expect_no_more(name);
  if (utf8::length(fill) != 1) throw runtime_error("The fill character must be exactly one character long");
  const std::string& str = s.as_string();
  int64_t len = static_cast<int64_t>(utf8::length(str));
  if (width <= len) return s;
  in.check_size(static_cast<size_t>(width) * fill.size());
  int64_t pad = width - len;
  int64_t left = align == '>' ? pad : align == '^' ? pad / 2 + (pad & width & 1) : 0;
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += str;
  for (int64_t i = left; i < pad; ++i) out += fill;
  return Value(out);
}
Value m_center(const Value& s, CallArgs& a, Interpreter& in) { return pad_impl(s, a, in, '^', "center"); }
Value m_ljust(const Value& s, CallArgs& a, Interpreter& in) { return pad_impl(s, a, in, '<', "ljust"); }
Value m_rjust(const Value& s, CallArgs& a, Interpreter& in) { return pad_impl(s, a, in, '>', "rjust"); }

Value m_zfill(const Value& s, CallArgs& a, Interpreter& in) {
  int64_t width = int_arg(a.get(0, "width"), 0, "width");
  a.expect_no_more("zfill");
  std::string str = s.as_string();
  int64_t len = static_cast<int64_t>(utf8::length(str));
  if (width <= len) return s;
  in.check_size(static_cast<size_t>(width));
  std::string sign;
  if (!str.empty() && (str[0] == '+' || str[0] == '-')) {
    sign = str.substr(0, 1);
    str.erase(0, 1);
  }
  return Value(sign + std::string(static_cast<size_t>(width - len), '0') + str);
}

Value partition_impl(const Value& s, CallArgs& a, bool right) {
  std::string sep = str_param(a, 0, "sep", right ? "rpartition" : "partition");
  a.expect_no_more("partition");
  if (sep.empty()) throw runtime_error("empty separator");
  const std::string& str = s.as_string();
  size_t f = right ? str.rfind(sep) : str.find(sep);
  if (f == std::string::npos)
    return right ? Value::list({Value(""), Value(""), s}, true) : Value::list({s, Value(""), Value("")}, true);
  return Value::list({Value(str.substr(0, f)), Value(sep), Value(str.substr(f + sep.size()))}, true);
}
Value m_partition(const Value& s, CallArgs& a, Interpreter&) { return partition_impl(s, a, false); }
Value m_rpartition(const Value& s, CallArgs& a, Interpreter&) { return partition_impl(s, a, true); }

Value m_removeprefix(const Value& s, CallArgs& a, Interpreter&) {
  std::string p = str_param(a, 0, "prefix", "removeprefix");
  a.expect_no_more("removeprefix");
  const std::string& str = s.as_string();
  return str.compare(0, p.size(), p) == 0 ? Value(str.substr(p.size())) : s;
}
Value m_removesuffix(const Value& s, CallArgs& a, Interpreter&) {
  std::string p = str_param(a, 0, "suffix", "removesuffix");
  a.expect_no_more("removesuffix");
  const std::string& str = s.as_string();
  if (!p.empty() && str.size() >= p.size() && str.compare(str.size() - p.size(), p.size(), p) == 0)
    return Value(str.substr(0, str.size() - p.size()));
  return s;
}

// ---- dict ----
Value m_items(const Value& d, CallArgs& a, Interpreter&) {
  a.expect_no_more("items");
  std::vector<Value> out;
  for (auto& [k, v] : d.as_dict().items) out.push_back(Value::list({k, v}, true));
  return Value::list(std::move(out));
}
Value m_keys(const Value& d, CallArgs& a, Interpreter&) {
  a.expect_no_more("keys");
  std::vector<Value> out;
  for (auto& kv : d.as_dict().items) out.push_back(kv.first);
  return Value::list(std::move(out));
}
Value m_values(const Value& d, CallArgs& a, Interpreter&) {
  a.expect_no_more("values");
  std::vector<Value> out;
  for (auto& kv : d.as_dict().items) out.push_back(kv.second);
  return Value::list(std::move(out));
}
Value m_get(const Value& d, CallArgs& a, Interpreter&) {
  const Value* key = a.get(0, nullptr);
  const Value* dflt = a.get(1, nullptr);
  a.expect_no_more("get");
  if (!key) throw runtime_error("get expected at least 1 argument, got 0");
  if (const Value* v = d.as_dict().find(*key)) return *v;
  return dflt ? *dflt : Value::none();
}
Value m_dcopy(const Value& d, CallArgs& a, Interpreter&) {
  a.expect_no_more("copy");
  Value c = Value::dict();
  c.as_dict().items = d.as_dict().items;
  return c;
}

// ---- list ----
Value m_lindex(const Value& l, CallArgs& a, Interpreter&) {
  const Value* x = a.get(0, nullptr);
  a.expect_no_more("index");
  if (!x) throw runtime_error("index expected at least 1 argument, got 0");
  auto& items = l.as_list().items;
  for (size_t i = 0; i < items.size(); ++i)
    if (values_equal(items[i], *x)) return Value(static_cast<int64_t>(i));
  throw runtime_error(to_repr(*x) + " is not in list");
}
Value m_lcount(const Value& l, CallArgs& a, Interpreter&) {
  const Value* x = a.get(0, nullptr);
  a.expect_no_more("count");
  if (!x) throw runtime_error("count() takes exactly one argument (0 given)");
  int64_t n = 0;
  for (auto& item : l.as_list().items) n += values_equal(item, *x);
  return Value(n);
}
Value m_lcopy(const Value& l, CallArgs& a, Interpreter&) {
  a.expect_no_more("copy");
  return Value::list(l.as_list().items, l.as_list().tuple);
}

const std::unordered_map<std::string, Method>& string_methods() {
  static const std::unordered_map<std::string, Method> m = {
      {"strip", m_strip}, {"lstrip", m_lstrip}, {"rstrip", m_rstrip}, {"split", m_split}, {"rsplit", m_rsplit},
      {"startswith", m_startswith}, {"endswith", m_endswith}, {"replace", m_replace}, {"upper", m_upper},
      {"lower", m_lower}, {"casefold", m_lower}, {"title", m_title}, {"capitalize", m_capitalize},
      {"swapcase", m_swapcase}, {"find", m_find}, {"rfind", m_rfind}, {"index", m_sindex}, {"rindex", m_rindex},
      {"count", m_scount}, {"format", m_format}, {"splitlines", m_splitlines},
      {"isdigit", char_class<text::is_digit>}, {"isdecimal", char_class<text::is_digit>},
      {"isnumeric", char_class<text::is_digit>}, {"isalpha", char_class<text::is_alpha>},
      {"isalnum", char_class<text::is_alnum>}, {"isspace", char_class<space_pred>}, {"islower", m_islower},
      {"isupper", m_isupper}, {"join", m_join}, {"center", m_center}, {"ljust", m_ljust}, {"rjust", m_rjust},
      {"zfill", m_zfill}, {"partition", m_partition}, {"rpartition", m_rpartition},
      {"removeprefix", m_removeprefix}, {"removesuffix", m_removesuffix},
      {"isascii", m_isascii}, {"istitle", m_istitle}, {"expandtabs", m_expandtabs}, {"format_map", m_format_map},
  };
  return m;
}

const std::unordered_map<std::string, Method>& dict_methods() {
  static const std::unordered_map<std::string, Method> m = {
      {"items", m_items}, {"keys", m_keys}, {"values", m_values}, {"get", m_get}, {"copy", m_dcopy}};
  return m;
}

const std::unordered_map<std::string, Method>& list_methods() {
  static const std::unordered_map<std::string, Method> m = {{"index", m_lindex}, {"count", m_lcount}, {"copy", m_lcopy}};
  return m;
}

const std::unordered_set<std::string>& unsafe_dict() {
  static const std::unordered_set<std::string> s = {"pop", "popitem", "update", "clear", "setdefault"};
  return s;
}
const std::unordered_set<std::string>& unsafe_list() {
  static const std::unordered_set<std::string> s = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
  return s;
}

// markupsafe's Markup overrides these str methods: their string results are
// Markup again, and the strings they insert (replace's `new`, the fill
// character, join's items, format's arguments) are escaped first.
Value as_markup(const Value& v) {
  if (v.is_string()) return Value::markup(v.as_string());
  if (v.is_list() && !v.as_list().generator) {
    std::vector<Value> items;
    for (auto& item : v.as_list().items) items.push_back(as_markup(item));
    return Value::list(std::move(items), v.as_list().tuple);
  }
  return v;
}

Value call_markup_method(const Value& self, const std::string& name, Method m, CallArgs& a, Interpreter& in) {
  static const std::unordered_set<std::string> wrapped = {
      "capitalize", "title", "lower", "upper", "replace", "ljust", "rjust", "lstrip", "rstrip",
      "center", "strip", "expandtabs", "swapcase", "zfill", "casefold", "removeprefix", "removesuffix",
      "partition", "rpartition", "format", "format_map", "join", "split", "rsplit", "splitlines"};
  if (!wrapped.count(name)) return m(self, a, in);
  auto escape_strings = [](Value& v) {
    if (v.is_string()) v = html_escape(v);
  };
  if ((name == "replace" || name == "ljust" || name == "rjust" || name == "center") && a.positional.size() > 1)
    escape_strings(a.positional[1]);
  if (name == "format") {
    for (auto& v : a.positional) escape_strings(v);
    for (auto& [k, v] : a.keyword) escape_strings(v);
  }
  if (name == "format_map" && !a.positional.empty() && a.positional[0].is_dict()) {
    Value escaped = Value::dict();
    for (auto& [k, v] : a.positional[0].as_dict().items) escaped.as_dict().set(k, v.is_string() ? html_escape(v) : v);
    a.positional[0] = escaped;
  }
  if (name == "join" && !a.positional.empty()) {
    std::vector<Value> items;
    // markupsafe escapes every item, so numbers and the like join as text.
    for (auto& item : iterate(a.positional[0])) items.push_back(html_escape(item));
    a.positional[0] = Value::list(std::move(items));
  }
  return as_markup(m(self, a, in));
}

Value bind(const Value& self, const std::string& name, Method m) {
  if (self.is_markup())
    return Value::function(name, [self, name, m](CallArgs& a, Interpreter& in) {
      return call_markup_method(self, name, m, a, in);
    });
  return Value::function(name, [self, m](CallArgs& a, Interpreter& in) { return m(self, a, in); });
}

}  // namespace

std::optional<Value> bound_method(const Value& obj, const std::string& name) {
  const std::unordered_map<std::string, Method>* table = nullptr;
  const std::unordered_set<std::string>* unsafe = nullptr;
  if (obj.is_list() && obj.as_list().generator) return std::nullopt;
  if (obj.is_string()) table = &string_methods();
  else if (obj.is_dict() && !obj.as_dict().is_namespace) table = &dict_methods(), unsafe = &unsafe_dict();
  else if (obj.is_list() && !obj.as_list().tuple) table = &list_methods(), unsafe = &unsafe_list();
  else if (obj.is_list()) table = &list_methods();
  if (!table) return std::nullopt;
  auto it = table->find(name);
  if (it != table->end()) return bind(obj, name, it->second);
  if (unsafe && unsafe->count(name))
    return Value::undefined("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe.");
  return std::nullopt;
}

}  // namespace allm::jinja
