#pragma once
// Numeric bounds of JSON Schema as grammars: exact digit-range automata for
// integers, and for numbers with integral bounds (a decimal is compared by its
// integer part and whether its fraction is zero).
#include "grammar_ir.hpp"

namespace allm::grammar {

struct Bounds {
  bool has_lo = false, has_hi = false;
  double lo = 0, hi = 0;
  bool lo_excl = false, hi_excl = false;
};

Frag integer_range(Builder& b, const Bounds& bounds);
// Throws InvalidArgumentError naming `ptr` for bounds it cannot express exactly.
Frag number_range(Builder& b, const Bounds& bounds, const std::string& ptr);

}  // namespace allm::grammar
