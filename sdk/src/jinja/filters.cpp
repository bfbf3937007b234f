// Jinja2's built-in filters (the ones chat templates use), with transformers'
// `tojson` (ensure_ascii=False, indent, separators, sort_keys).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "allm/error.hpp"
#include "jinja/builtins.hpp"
#include "jinja/interpreter.hpp"
#include "jinja/operations.hpp"
#include "jinja/text.hpp"
#include "jinja/utf8.hpp"

namespace allm::jinja {

using std::runtime_error;

std::string str_of(const Value& v) { return to_str(v); }

int64_t int_arg(const Value* v, int64_t fallback, const char* what) {
  if (!v || v->is_none()) return fallback;
  if (!v->is_integral()) throw runtime_error(std::string(what) + " must be an integer, not " + v->type_name());
  return v->as_int();
}

std::string string_arg(const Value* v, const std::string& fallback, const char* what) {
  if (!v || v->is_none()) return fallback;
  if (!v->is_string()) throw runtime_error(std::string(what) + " must be a string, not " + v->type_name());
  return v->as_string();
}

namespace {

bool bool_arg(const Value* v, bool fallback) { return v ? v->truthy() : fallback; }

// Jinja implements several filters as Python generator functions: nothing
// runs until the result is iterated, so their errors surface only then.
template <class Body>
Value lazily(Body&& body) {
  try {
    return Value::generator(body());
  } catch (const allm::Error&) {
    throw;
  } catch (const std::exception& e) {
    return Value::generator({}, e.what());
  }
}

// Jinja's attribute paths: "a.b.0" walks attributes and integer indexes.
Value walk_attribute(const Value& item, const Value& attribute) {
  if (!attribute.is_string()) return get_item(item, attribute);
  Value cur = item;
  const std::string& path = attribute.as_string();
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    auto idx = parse_int(part);
    cur = idx && !part.empty() && std::isdigit(static_cast<unsigned char>(part[0])) ? get_item(cur, Value(*idx))
                                                                                     : get_item(cur, Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// Sort key with optional case folding of strings.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(text::lower(v.as_string()));
  return v;
}

Value f_abs(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("abs");
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) throw runtime_error("integer overflow");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  throw runtime_error("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_attr(Interpreter&, const Value& v, CallArgs& a) {
  const Value* name = a.get(0, "name");
  a.expect_no_more("attr");
  if (!name) throw runtime_error("attr() missing the attribute name");
  return get_attr(v, str_of(*name));
}

Value f_batch(Interpreter& in, const Value& v, CallArgs& a) {
  return lazily([&] {
  int64_t count = int_arg(a.get(0, "linecount"), 1, "batch size");
  const Value* fill = a.get(1, "fill_with");
  a.expect_no_more("batch");
  if (count <= 0) throw runtime_error("batch size must be positive");
  std::vector<Value> out, cur;
  for (auto& item : iterate(v)) {
    in.step();
    cur.push_back(item);
    if (static_cast<int64_t>(cur.size()) == count) {
      out.push_back(Value::list(std::move(cur)));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    if (fill)
      while (static_cast<int64_t>(cur.size()) < count) cur.push_back(*fill);
    out.push_back(Value::list(std::move(cur)));
  }
  return out;
  });
}

// groupby(attribute, default=None, case_sensitive=False): items sorted by
// the attribute and grouped, as a list of (grouper, list) named tuples.
Value f_groupby(Interpreter& in, const Value& v, CallArgs& a) {
  const Value* attribute = a.get(0, "attribute");
  const Value* fallback = a.get(1, "default");
  bool case_sensitive = bool_arg(a.get(2, "case_sensitive"), false);
  a.expect_no_more("groupby");
  if (!attribute) throw runtime_error("groupby() missing 1 required positional argument: 'attribute'");
  auto attr_of = [&](const Value& item) {
    Value key = walk_attribute(item, *attribute);
    return key.is_undefined() && fallback && !fallback->is_none() ? *fallback : key;
  };
  std::vector<std::pair<Value, Value>> keyed;  // (sort key, item)
  for (auto& item : iterate(v)) {
    in.step();
    keyed.emplace_back(sort_key(attr_of(item), case_sensitive), item);
  }
  // Python's sort compares Undefined keys, and Undefined refuses comparisons.
  if (keyed.size() > 1)
    for (auto& [key, item] : keyed)
      if (key.is_undefined()) fail_undefined(key);
  std::stable_sort(keyed.begin(), keyed.end(), [](auto& x, auto& y) { return values_less(x.first, y.first); });
  std::vector<Value> groups;
  for (size_t i = 0; i < keyed.size();) {
    std::vector<Value> members;
    size_t j = i;
    for (; j < keyed.size() && values_equal(keyed[j].first, keyed[i].first); ++j) members.push_back(keyed[j].second);
    // The grouper is the attribute as the group's first item has it (not lowered).
    Value group = Value::list({case_sensitive ? keyed[i].first : attr_of(keyed[i].second), Value::list(std::move(members))}, true);
    group.as_list().fields = {"grouper", "list"};
    groups.push_back(std::move(group));
    i = j;
  }
  return Value::list(std::move(groups));
}

// slice(slices, fill_with=None): the items cut into `slices` columns, the
// first ones one longer; a generator, like Jinja's.
Value f_slice(Interpreter& in, const Value& v, CallArgs& a) {
  return lazily([&] {
    int64_t slices = int_arg(a.get(0, "slices"), 1, "slices");
    const Value* fill = a.get(1, "fill_with");
    a.expect_no_more("slice");
    std::vector<Value> seq = iterate(v);
    if (slices == 0) throw runtime_error("integer division or modulo by zero");
    std::vector<Value> out;
    if (slices < 0) return out;  // range(slices) is empty
    int64_t length = static_cast<int64_t>(seq.size());
    int64_t per = length / slices, extra = length % slices;
    int64_t offset = 0;
    for (int64_t n = 0; n < slices; ++n) {
      in.step();
      int64_t start = offset + n * per;
      if (n < extra) ++offset;
      int64_t end = offset + (n + 1) * per;
      std::vector<Value> column(seq.begin() + start, seq.begin() + end);
      if (fill && !fill->is_none() && n >= extra) column.push_back(*fill);
      out.push_back(Value::list(std::move(column)));
    }
    return out;
  });
}

// filesizeformat(binary=False): "1 Byte", "512 Bytes", "1.5 kB" / "1.5 KiB".
Value f_filesizeformat(Interpreter&, const Value& v, CallArgs& a) {
  bool binary = bool_arg(a.get(0, "binary"), false);
  a.expect_no_more("filesizeformat");
  double bytes;
  if (v.is_number()) {
    bytes = v.as_double();
  } else if (v.is_string()) {
    auto d = parse_float(v.as_string());
    if (!d) throw runtime_error("could not convert string to float: " + to_repr(v));
    bytes = *d;
  } else {
    throw runtime_error("float() argument must be a string or a real number, not '" + v.type_name() + "'");
  }
  static const char* decimal[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  static const char* binary_units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  double base = binary ? 1024 : 1000;
  if (bytes == 1) return Value("1 Byte");
  if (bytes < base) return Value(std::to_string(static_cast<int64_t>(bytes)) + " Bytes");
  double unit = base;
  const char* prefix = nullptr;
  for (int i = 0; i < 8; ++i) {
    unit *= base;
    prefix = binary ? binary_units[i] : decimal[i];
    if (bytes < unit) break;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %s", base * bytes / unit, prefix);
  return Value(std::string(buf));
}

// Jinja's url_quote: UTF-8 bytes, unreserved characters kept, the rest %XX;
// for query strings "/" is quoted too and spaces become "+".
std::string url_quote(const std::string& s, bool for_qs) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || (c == '/' && !for_qs)) {
      out += static_cast<char>(c);
    } else if (c == ' ' && for_qs) {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// urlencode: a string (or any non-iterable) quoted; a dict or a sequence of
// pairs as key=value&... .
Value f_urlencode(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("urlencode");
  if (v.is_string() || !(v.is_list() || v.is_dict())) return Value(url_quote(str_of(v), false));
  std::vector<std::pair<Value, Value>> pairs;
  if (v.is_dict()) {
    pairs = v.as_dict().items;
  } else {
    for (auto& item : iterate(v)) {
      auto kv = iterate(item);
      if (kv.size() != 2) throw runtime_error("cannot unpack " + item.type_name() + " into a key and a value");
      pairs.emplace_back(kv[0], kv[1]);
    }
  }
  std::string out;
  for (auto& [k, val] : pairs) {
    if (!out.empty()) out += '&';
    out += url_quote(str_of(k), true) + "=" + url_quote(str_of(val), true);
  }
  return Value(std::move(out));
}

// xmlattr(autospace=True): a dict as escaped key="value" pairs, None and
// Undefined values left out; keys with whitespace, '/', '>' or '=' refused.
Value f_xmlattr(Interpreter&, const Value& v, CallArgs& a) {
  bool autospace = bool_arg(a.get(0, "autospace"), true);
  a.expect_no_more("xmlattr");
  if (!v.is_dict() || v.as_dict().is_namespace) throw runtime_error("'" + v.type_name() + "' object has no attribute 'items'");
  std::string out;
  for (auto& [k, val] : v.as_dict().items) {
    if (val.is_none() || val.is_undefined()) continue;
    std::string key = str_of(k);
    if (key.find_first_of(" \t\n\r\f\v/>=") != std::string::npos)
      throw runtime_error("Invalid character in attribute name: " + to_repr(k));
    if (!out.empty()) out += ' ';
    out += html_escape(k).as_string() + "=\"" + html_escape(val).as_string() + "\"";
  }
  if (autospace && !out.empty()) out = " " + out;
  return Value(std::move(out));
}

Value f_capitalize(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("capitalize");
  return Value(text::capitalize(str_of(v)));
}

Value f_center(Interpreter& in, const Value& v, CallArgs& a) {
  int64_t width = int_arg(a.get(0, "width"), 80, "width");
  a.expect_no_more("center");
  std::string s = str_of(v);
  int64_t len = static_cast<int64_t>(utf8::length(s));
  if (width <= len) return Value(s);
  in.check_size(static_cast<size_t>(width));
  int64_t total = width - len;
  // Python's str.center puts the odd space on the left when len is odd... exactly:
  int64_t left = total / 2 + (total & width & 1);
  return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' '));
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  const Value* dflt = a.get(0, "default_value");
  bool boolean = bool_arg(a.get(1, "boolean"), false);
  a.expect_no_more("default");
  if (v.is_undefined() || (boolean && !v.truthy())) return dflt ? *dflt : Value("");
  return v;
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& a) {
  bool case_sensitive = bool_arg(a.get(0, "case_sensitive"), false);
  std::string by = string_arg(a.get(1, "by"), "key", "by");
  bool reverse = bool_arg(a.get(2, "reverse"), false);
  a.expect_no_more("dictsort");
  if (!v.is_dict()) throw runtime_error("dictsort expects a mapping, got " + v.type_name());
  if (by != "key" && by != "value") throw runtime_error("You can only sort by either \"key\" or \"value\"");
  std::vector<std::pair<Value, Value>> items = v.as_dict().items;
  size_t pos = by == "key" ? 0 : 1;
  std::stable_sort(items.begin(), items.end(), [&](auto& x, auto& y) {
    const Value& kx = pos == 0 ? x.first : x.second;
    const Value& ky = pos == 0 ? y.first : y.second;
    bool less = reverse ? values_less(sort_key(ky, case_sensitive), sort_key(kx, case_sensitive))
                        : values_less(sort_key(kx, case_sensitive), sort_key(ky, case_sensitive));
    return less;
  });
  std::vector<Value> out;
  for (auto& [k, val] : items) out.push_back(Value::list({k, val}, true));
  return Value::list(std::move(out));
}

// escape / e: a Markup is already safe and stays as is.
Value f_escape(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("escape");
  return html_escape(v);
}

// forceescape: escapes even a Markup's text.
Value f_forceescape(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("forceescape");
  return html_escape(Value(str_of(v)));
}

Value f_first(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("first");
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("last");
  // Jinja takes next(reversed(seq)): a generator cannot be reversed.
  if (v.is_list() && v.as_list().generator) throw runtime_error("'generator' object is not reversible");
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  const Value* dflt = a.get(0, "default");
  a.expect_no_more("float");
  if (v.is_undefined()) fail_undefined(v);  // float(Undefined) raises, it is not a failed conversion
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string())
    if (auto d = parse_float(v.as_string())) return Value(*d);
  return dflt ? *dflt : Value(0.0);
}

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  const Value* dflt = a.get(0, "default");
  int64_t base = int_arg(a.get(1, "base"), 10, "base");
  a.expect_no_more("int");
  if (v.is_undefined()) fail_undefined(v);  // int(Undefined) raises, it is not a failed conversion
  if (v.is_integral()) return Value(v.as_int());
  if (v.is_float()) {
    double d = v.as_double();
    if (std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    if (auto i = parse_int(v.as_string(), static_cast<int>(base))) return Value(*i);
    if (auto d = parse_float(v.as_string()))
      if (std::isfinite(*d) && std::fabs(*d) < 9.2e18) return Value(static_cast<int64_t>(*d));
  }
  return dflt ? *dflt : Value(int64_t{0});
}

Value f_format(Interpreter& in, const Value& v, CallArgs& a) {
  if (!a.keyword.empty()) {
    Value d = Value::dict();
    for (auto& [k, val] : a.keyword) d.as_dict().set(Value(k), val);
    return binary_op("%", v.is_markup() ? v : Value(str_of(v)), d, in.size_limit());
  }
  return binary_op("%", v.is_markup() ? v : Value(str_of(v)), Value::list(a.positional, true), in.size_limit());
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& a) {
  const Value* width = a.get(0, "width");
  bool first = bool_arg(a.get(1, "first"), false);
  bool blank = bool_arg(a.get(2, "blank"), false);
  a.expect_no_more("indent");
  std::string indention = width && width->is_string() ? width->as_string()
                                                      : std::string(static_cast<size_t>(std::clamp<int64_t>(int_arg(width, 4, "width"), 0, 4096)), ' ');
  if (!v.is_string()) throw runtime_error("unsupported operand type(s) for +=: '" + v.type_name() + "' and 'str'");
  std::vector<std::string> lines = text::splitlines(v.as_string() + "\n", false);
  std::string rv;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) rv += "\n";
    if (i > 0 && (blank || !lines[i].empty())) rv += indention;
    rv += lines[i];
    in.check_size(rv.size());
  }
  if (first) rv = indention + rv;
  return Value(std::move(rv));
}

Value f_items(Interpreter&, const Value& v, CallArgs& a) {
  return lazily([&] {
    a.expect_no_more("items");
    std::vector<Value> out;
    if (v.is_undefined()) return out;
    if (!v.is_dict() || v.as_dict().is_namespace) throw runtime_error("Can only get item pairs from a mapping.");
    for (auto& [k, val] : v.as_dict().items) out.push_back(Value::list({k, val}, true));
    return out;
  });
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
  std::string sep = str_of(a.get(0, "d") ? *a.get(0, "d") : Value(""));
  const Value* attribute = a.get(1, "attribute");
  a.expect_no_more("join");
  std::string out;
  bool first = true;
  for (auto& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += str_of(attribute ? walk_attribute(item, *attribute) : item);
    in.check_size(out.size());
  }
  return Value(std::move(out));
}

Value f_length(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("length");
  auto n = length(v);
  if (!n) throw runtime_error("object of type '" + v.type_name() + "' has no len()");
  return Value(*n);
}

Value f_list(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("list");
  return Value::list(iterate(v));
}

Value f_lower(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("lower");
  return Value(text::lower(str_of(v)));
}

Value f_upper(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("upper");
  return Value(text::upper(str_of(v)));
}

Value f_title(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("title");
  return Value(text::jinja_title(str_of(v)));
}

// The rest of `args` after the first `skip` positionals, for map/select.
CallArgs rest_args(CallArgs& a, size_t skip) {
  CallArgs rest;
  for (size_t i = skip; i < a.positional.size(); ++i) rest.positional.push_back(a.positional[i]);
  rest.keyword = a.keyword;
  return rest;
}

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  return lazily([&] {
  std::vector<Value> out;
  if (!v.truthy()) return out;
  const Value* attribute = nullptr;
  const Value* dflt = nullptr;
  for (auto& [k, val] : a.keyword) {
    if (k == "attribute") attribute = &val;
    else if (k == "default") dflt = &val;
  }
  if (attribute) {
    for (auto& [k, val] : a.keyword)
      if (k != "attribute" && k != "default") throw runtime_error("map got an unexpected keyword argument '" + k + "'");
    for (auto& item : iterate(v)) {
      in.step();
      Value r = walk_attribute(item, *attribute);
      out.push_back(r.is_undefined() && dflt ? *dflt : r);
    }
    return out;
  }
  if (a.positional.empty() || !a.positional[0].is_string()) throw runtime_error("map requires a filter name");
  std::string name = a.positional[0].as_string();
  for (auto& item : iterate(v)) {
    CallArgs rest = rest_args(a, 1);
    out.push_back(in.apply_filter(name, item, rest));
  }
  return out;
  });
}

Value select_impl(Interpreter& in, const Value& v, CallArgs& a, bool attr_mode, bool keep_if) {
  return lazily([&] {
  std::vector<Value> out;
  if (!v.truthy()) return out;
  size_t first_test_arg = attr_mode ? 1 : 0;
  const Value* attribute = attr_mode ? (a.positional.empty() ? nullptr : &a.positional[0]) : nullptr;
  if (attr_mode && !attribute) throw runtime_error("missing the attribute to test");
  for (auto& item : iterate(v)) {
    Value subject = attribute ? walk_attribute(item, *attribute) : item;
    bool r;
    if (a.positional.size() > first_test_arg) {
      if (!a.positional[first_test_arg].is_string()) throw runtime_error("test name must be a string");
      CallArgs rest = rest_args(a, first_test_arg + 1);
      r = in.apply_test(a.positional[first_test_arg].as_string(), subject, rest);
    } else {
      in.step();
      r = subject.truthy();
    }
    if (r == keep_if) out.push_back(item);
  }
  return out;
  });
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }

Value min_max(const Value& v, CallArgs& a, bool want_max) {
  bool case_sensitive = bool_arg(a.get(0, "case_sensitive"), false);
  const Value* attribute = a.get(1, "attribute");
  a.expect_no_more(want_max ? "max" : "min");
  auto items = iterate(v);
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  auto key = [&](size_t i) { return sort_key(attribute ? walk_attribute(items[i], *attribute) : items[i], case_sensitive); };
  for (size_t i = 1; i < items.size(); ++i) {
    bool better = want_max ? values_less(key(best), key(i)) : values_less(key(i), key(best));
    if (better) best = i;
  }
  return items[best];
}

Value f_max(Interpreter&, const Value& v, CallArgs& a) { return min_max(v, a, true); }
Value f_min(Interpreter&, const Value& v, CallArgs& a) { return min_max(v, a, false); }

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
  const Value* old_v = a.get(0, "old");
  const Value* new_v = a.get(1, "new");
  int64_t count = int_arg(a.get(2, "count"), -1, "count");
  a.expect_no_more("replace");
  if (!old_v || !new_v) throw runtime_error("replace() needs the old and new strings");
  std::string s = str_of(v), from = str_of(*old_v), to = str_of(*new_v);
  std::string out;
  if (from.empty()) {
    // Python inserts `to` around every character.
    auto chars = utf8::chars(s);
    int64_t done = 0;
    for (size_t i = 0; i <= chars.size(); ++i) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (i < chars.size()) out += chars[i];
      in.check_size(out.size());
    }
    return Value(std::move(out));
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t f = s.find(from, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += to;
    in.check_size(out.size());
    pos = f + from.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  return Value(std::move(out));
}

Value f_reverse(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("reverse");
  if (v.is_string()) {
    auto chars = utf8::chars(v.as_string());
    std::string out;
    for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
    return Value(std::move(out));
  }
  auto items = iterate(v);
  std::reverse(items.begin(), items.end());
  // Python's reversed() of a list is an iterator, not a list.
  if (v.is_list() && !v.as_list().generator) return Value::generator(std::move(items));
  return Value::list(std::move(items));
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  int64_t precision = int_arg(a.get(0, "precision"), 0, "precision");
  std::string method = string_arg(a.get(1, "method"), "common", "method");
  a.expect_no_more("round");
  if (method != "common" && method != "ceil" && method != "floor") throw runtime_error("method must be common, ceil or floor");
  if (!v.is_number()) {
    // Python's own errors: round(x, n) for "common", math.floor(x * 10**n) otherwise.
    if (method == "common") throw runtime_error("type " + v.type_name() + " doesn't define __round__ method");
    if (v.is_string() || (v.is_list() && !v.as_list().generator)) throw runtime_error("must be real number, not " + v.type_name());
    throw runtime_error("unsupported operand type(s) for *: '" + v.type_name() + "' and 'int'");
  }
  if (v.is_integral() && method == "common" && precision >= 0) return Value(v.as_int());  // round(int) is an int
  double x = v.as_double();
  double scale = std::pow(10.0, static_cast<double>(precision));
  if (method == "common") return Value(std::nearbyint(x * scale) / scale);
  if (method == "ceil") return Value(std::ceil(x * scale) / scale);
  if (method == "floor") return Value(std::floor(x * scale) / scale);
  throw runtime_error("method must be common, ceil or floor");
}

Value f_safe(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("safe");
  return v.is_markup() ? v : Value::markup(str_of(v));
}

Value f_sort(Interpreter&, const Value& v, CallArgs& a) {
  bool reverse = bool_arg(a.get(0, "reverse"), false);
  bool case_sensitive = bool_arg(a.get(1, "case_sensitive"), false);
  const Value* attribute = a.get(2, "attribute");
  a.expect_no_more("sort");
  auto items = iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& item : items) keyed.emplace_back(sort_key(attribute ? walk_attribute(item, *attribute) : item, case_sensitive), item);
  std::stable_sort(keyed.begin(), keyed.end(), [&](auto& x, auto& y) {
    return reverse ? values_less(y.first, x.first) : values_less(x.first, y.first);
  });
  std::vector<Value> out;
  for (auto& [k, item] : keyed) out.push_back(item);
  return Value::list(std::move(out));
}

Value f_string(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("string");
  return v.is_string() ? v : Value(str_of(v));  // a Markup stays Markup (soft_str)
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
  const Value* attribute = a.get(0, "attribute");
  Value total = a.get(1, "start") ? *a.get(1, "start") : Value(int64_t{0});
  a.expect_no_more("sum");
  for (auto& item : iterate(v)) total = binary_op("+", total, attribute ? walk_attribute(item, *attribute) : item, in.size_limit());
  return total;
}

Value f_tojson(Interpreter&, const Value& v, CallArgs& a) {
  JsonStyle style;
  style.ensure_ascii = bool_arg(a.get(0, "ensure_ascii"), false);
  const Value* indent = a.get(1, "indent");
  const Value* separators = a.get(2, "separators");
  style.sort_keys = bool_arg(a.get(3, "sort_keys"), false);
  a.expect_no_more("tojson");
  if (indent && !indent->is_none()) {
    style.has_indent = true;
    if (indent->is_string()) style.indent = indent->as_string();
    else style.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(int_arg(indent, 0, "indent"), 0, 64)), ' ');
    style.item_separator = ",";
  }
  if (separators && !separators->is_none()) {
    if (!separators->is_list() || separators->as_list().items.size() != 2)
      throw runtime_error("separators must be a pair of strings");
    style.item_separator = str_of(separators->as_list().items[0]);
    style.key_separator = str_of(separators->as_list().items[1]);
  }
  try {
    return Value(json_dumps(v, style));
  } catch (const std::invalid_argument& e) {
    throw runtime_error(e.what());
  }
}

Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
  const Value* chars = a.get(0, "chars");
  a.expect_no_more("trim");
  std::string s = str_of(v);
  if (chars && !chars->is_none()) {
    std::string c = str_of(*chars);
    return Value(text::strip(s, &c, true, true));
  }
  return Value(text::strip(s, nullptr, true, true));
}

Value f_truncate(Interpreter&, const Value& v, CallArgs& a) {
  int64_t len = int_arg(a.get(0, "length"), 255, "length");
  bool killwords = bool_arg(a.get(1, "killwords"), false);
  std::string end = string_arg(a.get(2, "end"), "...", "end");
  int64_t leeway = int_arg(a.get(3, "leeway"), 5, "leeway");
  a.expect_no_more("truncate");
  if (!v.is_string()) {
    // Jinja measures len(s) of what it was given: a short list comes back
    // as it is; a number has no len().
    auto n = length(v);
    if (!n) throw runtime_error("object of type '" + v.type_name() + "' has no len()");
    if (*n <= len + leeway) return v;
    if (killwords) throw runtime_error("can only concatenate " + v.type_name() + " (not \"str\") to " + v.type_name());
    throw runtime_error("'" + v.type_name() + "' object has no attribute 'rsplit'");
  }
  std::string s = v.as_string();
  auto chars = utf8::chars(s);
  int64_t n = static_cast<int64_t>(chars.size());
  int64_t end_len = static_cast<int64_t>(utf8::length(end));
  if (len < end_len) throw runtime_error("expected length >= " + std::to_string(end_len));
  if (n <= len + leeway) return Value(s);
  std::string head;
  for (int64_t i = 0; i < len - end_len; ++i) head += chars[static_cast<size_t>(i)];
  if (killwords) return Value(head + end);
  size_t space = head.rfind(' ');
  if (space != std::string::npos) head.resize(space);
  return Value(head + end);
}

Value f_unique(Interpreter&, const Value& v, CallArgs& a) {
  return lazily([&] {
  bool case_sensitive = bool_arg(a.get(0, "case_sensitive"), false);
  const Value* attribute = a.get(1, "attribute");
  a.expect_no_more("unique");
  std::vector<Value> out, seen;
  for (auto& item : iterate(v)) {
    Value key = sort_key(attribute ? walk_attribute(item, *attribute) : item, case_sensitive);
    bool dup = false;
    for (auto& s : seen) dup = dup || values_equal(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return out;
  });
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("wordcount");
  int64_t count = 0;
  bool in_word = false;
  for (uint32_t cp : utf8::code_points(str_of(v))) {
    bool word = text::is_alnum(cp) || cp == '_';
    if (word && !in_word) ++count;
    in_word = word;
  }
  return Value(count);
}

// markupsafe's Markup.striptags: drop <!-- comments --> then <tags> (an
// unclosed one stops the search), collapse whitespace, then unescape the
// entities. The result is a plain str.
Value f_striptags(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("striptags");
  std::string s = str_of(v);
  auto drop = [&s](const std::string& open, const std::string& close) {
    size_t start;
    while ((start = s.find(open)) != std::string::npos) {
      size_t end = s.find(close, start);
      if (end == std::string::npos) break;
      s.erase(start, end + close.size() - start);
    }
  };
  drop("<!--", "-->");
  drop("<", ">");
  std::string joined;
  for (auto& w : text::split(s, nullptr, -1, false)) joined += (joined.empty() ? "" : " ") + w;
  return Value(text::html_unescape(joined));
}

// Filters that return a Markup when given one (they call the Markup's own
// str methods in Jinja).
template <FilterFn F>
Value keep_markup(Interpreter& in, const Value& v, CallArgs& a) {
  Value out = F(in, v, a);
  return v.is_markup() && out.is_string() ? Value::markup(out.as_string()) : out;
}

const std::unordered_map<std::string, FilterFn>& table() {
  static const std::unordered_map<std::string, FilterFn> filters = {
      {"abs", f_abs},           {"attr", f_attr},           {"batch", f_batch},
      {"capitalize", keep_markup<f_capitalize>}, {"center", keep_markup<f_center>},   {"count", f_length},
      {"d", f_default},         {"default", f_default},     {"dictsort", f_dictsort},
      {"e", f_escape},          {"escape", f_escape},       {"forceescape", f_forceescape},
      {"filesizeformat", f_filesizeformat}, {"first", f_first},       {"groupby", f_groupby},       {"float", f_float},         {"format", f_format},
      {"indent", keep_markup<f_indent>},     {"int", f_int},             {"items", f_items},
      {"join", f_join},         {"last", f_last},           {"length", f_length},
      {"list", f_list},         {"lower", keep_markup<f_lower>},         {"map", f_map},
      {"max", f_max},           {"min", f_min},             {"reject", f_reject},
      {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", keep_markup<f_reverse>},
      {"round", f_round},       {"safe", f_safe},           {"select", f_select},     {"slice", f_slice},
      {"selectattr", f_selectattr}, {"sort", f_sort},       {"string", f_string},
      {"striptags", f_striptags}, {"sum", f_sum},           {"title", f_title},
      {"tojson", f_tojson},     {"trim", keep_markup<f_trim>},           {"truncate", f_truncate},
      {"unique", f_unique},     {"upper", keep_markup<f_upper>}, {"urlencode", f_urlencode}, {"xmlattr", f_xmlattr},         {"wordcount", f_wordcount},
  };
  return filters;
}

}  // namespace

FilterFn find_filter(const std::string& name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : it->second;
}

}  // namespace allm::jinja
