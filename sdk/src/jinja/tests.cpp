// Jinja2's built-in tests (`x is defined`, `x is divisibleby(3)`, ...).
#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include "jinja/builtins.hpp"
#include "jinja/interpreter.hpp"
#include "jinja/operations.hpp"
#include "jinja/text.hpp"
#include "jinja/utf8.hpp"

namespace allm::jinja {
namespace {

using std::runtime_error;

const Value& one_arg(CallArgs& a, const char* test) {
  const Value* v = a.get(0, nullptr);
  if (!v) throw runtime_error(std::string("test '") + test + "' needs an argument");
  a.expect_no_more(test);
  return *v;
}

// Python's `value % n` for the odd/even/divisibleby tests (floats allowed).
double modulo(const Value& v, double n, const char* test) {
  if (!v.is_number()) throw runtime_error(std::string("test '") + test + "' needs a number, got " + v.type_name());
  if (n == 0) throw runtime_error("integer division or modulo by zero");
  if (v.is_integral() && n == static_cast<double>(static_cast<int64_t>(n)) && n != -1)
    return static_cast<double>(v.as_int() % static_cast<int64_t>(n));
  return std::fmod(v.as_double(), n);
}

bool t_defined(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("defined"); return !v.is_undefined(); }
bool t_undefined(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("undefined"); return v.is_undefined(); }
bool t_none(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("none"); return v.is_none(); }
bool t_boolean(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("boolean"); return v.is_bool(); }
bool t_true(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("true"); return v.is_bool() && v.as_bool(); }
bool t_false(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("false"); return v.is_bool() && !v.as_bool(); }
bool t_integer(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("integer"); return v.is_int(); }
bool t_float(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("float"); return v.is_float(); }
bool t_number(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("number"); return v.is_number(); }
bool t_string(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("string"); return v.is_string(); }
bool t_mapping(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("mapping");
  return v.is_dict() && !v.as_dict().is_namespace;
}
// Python's iter() accepts Undefined too (it iterates as empty).
bool t_iterable(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("iterable");
  return v.is_string() || v.is_list() || (v.is_dict() && !v.as_dict().is_namespace) || v.is_undefined();
}
// Undefined has __len__ and __getitem__, so Jinja counts it as a sequence.
bool t_sequence(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("sequence");
  return v.is_undefined() || v.is_string() || (v.is_list() && !v.as_list().generator) || (v.is_dict() && !v.as_dict().is_namespace);
}
// Undefined defines __call__ (to raise), so Python's callable() says yes.
bool t_callable(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("callable");
  return v.is_callable() || v.is_undefined();
}
bool t_odd(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("odd"); return modulo(v, 2, "odd") != 0; }
bool t_even(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("even"); return modulo(v, 2, "even") == 0; }
bool t_divisibleby(Interpreter&, const Value& v, CallArgs& a) {
  const Value& n = one_arg(a, "divisibleby");
  if (!n.is_number()) throw runtime_error("test 'divisibleby' needs a number, got " + n.type_name());
  if (n.is_integral() && n.as_int() == -1 && v.is_integral()) return true;
  return modulo(v, n.as_double(), "divisibleby") == 0;
}
bool t_eq(Interpreter&, const Value& v, CallArgs& a) { return compare("==", v, one_arg(a, "eq")); }
bool t_ne(Interpreter&, const Value& v, CallArgs& a) { return compare("!=", v, one_arg(a, "ne")); }
bool t_lt(Interpreter&, const Value& v, CallArgs& a) { return compare("<", v, one_arg(a, "lt")); }
bool t_le(Interpreter&, const Value& v, CallArgs& a) { return compare("<=", v, one_arg(a, "le")); }
bool t_gt(Interpreter&, const Value& v, CallArgs& a) { return compare(">", v, one_arg(a, "gt")); }
bool t_ge(Interpreter&, const Value& v, CallArgs& a) { return compare(">=", v, one_arg(a, "ge")); }
bool t_in(Interpreter&, const Value& v, CallArgs& a) { return contains(one_arg(a, "in"), v); }
bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
  const Value& o = one_arg(a, "sameas");
  if (v.type() != o.type()) return false;
  switch (v.type()) {
    case Value::Type::List: return v.list_ptr() == o.list_ptr();
    case Value::Type::Dict: return v.dict_ptr() == o.dict_ptr();
    case Value::Type::Callable: return &v.as_callable() == &o.as_callable();
    default: return values_equal(v, o);
  }
}
bool t_lower(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("lower");
  bool cased = false;
  for (uint32_t cp : utf8::code_points(str_of(v))) {
    if (text::is_upper(cp)) return false;
    cased = cased || text::is_lower(cp);
  }
  return cased;
}
bool t_upper(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("upper");
  bool cased = false;
  for (uint32_t cp : utf8::code_points(str_of(v))) {
    if (text::is_lower(cp)) return false;
    cased = cased || text::is_upper(cp);
  }
  return cased;
}
// Markup has __html__; nothing else does.
bool t_escaped(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_no_more("escaped");
  return v.is_markup();
}
bool t_filter(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("filter"); return v.is_string() && find_filter(v.as_string()); }
bool t_test(Interpreter&, const Value& v, CallArgs& a) { a.expect_no_more("test"); return v.is_string() && find_test(v.as_string()); }

const std::unordered_map<std::string, TestFn>& table() {
  static const std::unordered_map<std::string, TestFn> tests = {
      {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none},       {"boolean", t_boolean},
      {"true", t_true},       {"false", t_false},         {"integer", t_integer}, {"float", t_float},
      {"number", t_number},   {"string", t_string},       {"mapping", t_mapping}, {"iterable", t_iterable},
      {"sequence", t_sequence}, {"callable", t_callable}, {"odd", t_odd},         {"even", t_even},
      {"divisibleby", t_divisibleby}, {"eq", t_eq},       {"equalto", t_eq},      {"==", t_eq},
      {"ne", t_ne},           {"!=", t_ne},               {"lt", t_lt},           {"lessthan", t_lt},
      {"<", t_lt},            {"le", t_le},               {"<=", t_le},           {"gt", t_gt},
      {"greaterthan", t_gt},  {">", t_gt},                {"ge", t_ge},           {">=", t_ge},
      {"in", t_in},           {"sameas", t_sameas},       {"lower", t_lower},     {"upper", t_upper},
      {"escaped", t_escaped}, {"filter", t_filter},       {"test", t_test},
  };
  return tests;
}

}  // namespace

TestFn find_test(const std::string& name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : it->second;
}

}  // namespace allm::jinja
