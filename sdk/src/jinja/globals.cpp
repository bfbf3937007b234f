// Global functions: Jinja's range/dict/namespace/joiner/cycler plus
// transformers' raise_exception and strftime_now.
#include <ctime>
#include <stdexcept>

#include "jinja/builtins.hpp"
#include "jinja/interpreter.hpp"

namespace allm::jinja {
namespace {

using std::runtime_error;

Value g_range(CallArgs& a, Interpreter& in) {
  if (!a.keyword.empty()) throw runtime_error("range() takes no keyword arguments");
  if (a.positional.empty() || a.positional.size() > 3)
    throw runtime_error("range expected 1 to 3 arguments, got " + std::to_string(a.positional.size()));
  for (auto& v : a.positional)
    if (!v.is_integral()) throw runtime_error("'" + v.type_name() + "' object cannot be interpreted as an integer");
  int64_t start = 0, stop, step = 1;
  if (a.positional.size() == 1) {
    stop = a.positional[0].as_int();
  } else {
    start = a.positional[0].as_int();
    stop = a.positional[1].as_int();
    if (a.positional.size() == 3) step = a.positional[2].as_int();
  }
  if (step == 0) throw runtime_error("range() arg 3 must not be zero");
  // The length Python's range() would have, checked against the memory budget
  // before a single item is made (range(10**12) must fail at once).
  __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
  __int128 count = span <= 0 ? 0 : (span + (step > 0 ? step : -static_cast<__int128>(step)) - 1) /
                                       (step > 0 ? step : -static_cast<__int128>(step));
  check_memory(count > static_cast<__int128>(SIZE_MAX / sizeof(Value)) ? SIZE_MAX
                                                                          : static_cast<size_t>(count) * sizeof(Value));
  std::vector<Value> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    in.step();
    out.emplace_back(i);
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
  }
  return Value::list(std::move(out));
}

Value g_dict(CallArgs& a, Interpreter&) {
  Value d = Value::dict();
  for (auto& p : a.positional) {
    if (p.is_dict() && !p.as_dict().is_namespace) {
      for (auto& [k, v] : p.as_dict().items) d.as_dict().set(k, v);
    } else if (p.is_list()) {
      for (auto& pair : p.as_list().items) {
        if (!pair.is_list() || pair.as_list().items.size() != 2)
          throw runtime_error("dictionary update sequence element has wrong length; 2 is required");
        d.as_dict().set(pair.as_list().items[0], pair.as_list().items[1]);
      }
    } else {
      throw runtime_error("'" + p.type_name() + "' object is not iterable");
    }
  }
  for (auto& [k, v] : a.keyword) d.as_dict().set(Value(k), v);
  return d;
}

Value g_namespace(CallArgs& a, Interpreter& in) {
  Value ns = g_dict(a, in);
  ns.as_dict().is_namespace = true;
  return ns;
}

Value g_raise_exception(CallArgs& a, Interpreter&) {
  throw runtime_error(a.positional.empty() ? std::string("raise_exception called") : to_str(a.positional[0]));
}

Value g_strftime_now(CallArgs& a, Interpreter& in) {
  const Value* fmt = a.get(0, "format");
  a.expect_no_more("strftime_now");
  if (!fmt || !fmt->is_string()) throw runtime_error("strftime_now() needs a format string");
  std::tm tm = in.now();
  if (fmt->as_string().size() > 1024) throw runtime_error("strftime_now(): format too long");
  std::string out(fmt->as_string().size() * 16 + 64, '\0');
  size_t n = std::strftime(out.data(), out.size(), fmt->as_string().c_str(), &tm);
  out.resize(n);
  return Value(out);
}

Value g_joiner(CallArgs& a, Interpreter&) {
  std::string sep = string_arg(a.get(0, "sep"), ", ", "sep");
  a.expect_no_more("joiner");
  auto used = std::make_shared<bool>(false);
  return Value::function("joiner", [sep, used](CallArgs&, Interpreter&) {
    if (!*used) {
      *used = true;
      return Value("");
    }
    return Value(sep);
  });
}

Value g_cycler(CallArgs& a, Interpreter&) {
  if (a.positional.empty()) throw runtime_error("cycler needs at least one item");
  auto items = std::make_shared<std::vector<Value>>(a.positional);
  auto pos = std::make_shared<size_t>(0);
  Value obj = Value::dict();
  obj.as_dict().set(Value("next"), Value::function("next", [items, pos](CallArgs&, Interpreter&) {
    Value v = (*items)[*pos];
    *pos = (*pos + 1) % items->size();
    return v;
  }));
  obj.as_dict().set(Value("reset"), Value::function("reset", [pos](CallArgs&, Interpreter&) {
    *pos = 0;
    return Value::none();
  }));
  return obj;
}

}  // namespace

Value find_global(const std::string& name) {
  using Fn = Value (*)(CallArgs&, Interpreter&);
  static const std::pair<const char*, Fn> globals[] = {
      {"range", g_range},   {"dict", g_dict},     {"namespace", g_namespace}, {"raise_exception", g_raise_exception},
      {"strftime_now", g_strftime_now}, {"joiner", g_joiner}, {"cycler", g_cycler},
  };
  for (auto& [n, fn] : globals)
    if (name == n) return Value::function(n, fn);
  return Value();
}

}  // namespace allm::jinja
