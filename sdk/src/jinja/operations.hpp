#pragma once
// Python semantics of the operators and accesses the evaluator performs:
// iteration, attribute and item lookup (Jinja's sandboxed getattr/getitem),
// slicing, arithmetic, membership. Failures throw std::runtime_error; the
// evaluator adds the template position.
#include <optional>
#include <string>
#include <vector>

#include "jinja/value.hpp"

namespace allm::jinja {

// Raised by any use of an Undefined that Jinja's default Undefined refuses
// (attribute, call, arithmetic); the message is the Undefined's hint.
[[noreturn]] void fail_undefined(const Value& undefined);

// Python iteration: list/tuple items, dict keys, string characters; Undefined
// iterates as empty; anything else throws "'T' object is not iterable".
std::vector<Value> iterate(const Value& v);

// `obj.name`: a method first, then a dict key / namespace attribute.
Value get_attr(const Value& obj, const std::string& name);
// `obj[key]`: an item first, then an attribute.
Value get_item(const Value& obj, const Value& key);
// `obj[start:stop:step]`; null pointers for absent parts.
Value get_slice(const Value& obj, const Value* start, const Value* stop, const Value* step, size_t size_limit);

// `+ - * / // % **` and `~`. `size_limit` bounds strings and lists built.
Value binary_op(const std::string& op, const Value& a, const Value& b, size_t size_limit);
Value unary_op(const std::string& op, const Value& v);
// `a in b`.
bool contains(const Value& container, const Value& item);
// One link of a comparison chain (==, !=, <, <=, >, >=, in, not in).
bool compare(const std::string& op, const Value& a, const Value& b);

// Python len(); nullopt for values without one.
std::optional<int64_t> length(const Value& v);

// Python int(x) / float(x) conversion used by filters; nullopt on failure.
std::optional<int64_t> parse_int(const std::string& s, int base = 10);
std::optional<double> parse_float(const std::string& s);

// "'dict object'" / "'None'" as Jinja names objects in messages.
std::string object_type_repr(const Value& v);

}  // namespace allm::jinja
