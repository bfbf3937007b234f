#pragma once
// The built-in library: filters (filters.cpp), tests (tests.cpp), methods of
// str/list/dict (methods.cpp) and global functions (globals.cpp).
#include <optional>
#include <string>

#include "jinja/value.hpp"

namespace allm::jinja {

using FilterFn = Value (*)(Interpreter&, const Value& target, CallArgs& args);
using TestFn = bool (*)(Interpreter&, const Value& target, CallArgs& args);

// nullptr when no such filter / test exists.
FilterFn find_filter(const std::string& name);
TestFn find_test(const std::string& name);

// `obj.name` as a bound method of a str, list or dict, if Python has one.
// Methods that would mutate a value are refused like transformers' immutable
// sandbox does: the result is an Undefined whose use raises a security error.
std::optional<Value> bound_method(const Value& obj, const std::string& name);

// range, dict, namespace, raise_exception, strftime_now, joiner, cycler.
Value find_global(const std::string& name);

// Helpers shared by the builtins.
std::string str_of(const Value& v);  // to_str, but Undefined prints as ""
int64_t int_arg(const Value* v, int64_t fallback, const char* what);
std::string string_arg(const Value* v, const std::string& fallback, const char* what);

}  // namespace allm::jinja
