#include "json_schema_numbers.hpp"

#include <cmath>
#include <string>

#include "allm/error.hpp"

namespace allm::grammar {

namespace {
constexpr double kMaxBound = 1e15;  // integers exactly representable, digit automata stay small

uint64_t pow10(size_t d) {
  uint64_t v = 1;
  while (d--) v *= 10;
  return v;
}

Frag digit(Builder& b) { return b.bytes('0', '9'); }

Frag digits_n(Builder& b, size_t n) {
  std::vector<Frag> parts;
  for (size_t i = 0; i < n; ++i) parts.push_back(digit(b));
  return b.seq(parts);
}

// Decimal strings of equal length, every value in [lo, hi].
Frag same_length(Builder& b, const std::string& lo, const std::string& hi) {
  if (lo.empty()) return b.empty();
  size_t n = lo.size();
  if (lo[0] == hi[0]) return b.seq({b.literal(lo.substr(0, 1)), same_length(b, lo.substr(1), hi.substr(1))});
  if (lo.find_first_not_of('0', 1) == std::string::npos && hi.find_first_not_of('9', 1) == std::string::npos)
    return b.seq({b.bytes(static_cast<uint8_t>(lo[0]), static_cast<uint8_t>(hi[0])), digits_n(b, n - 1)});
  std::vector<Frag> alts;
  alts.push_back(b.seq({b.literal(lo.substr(0, 1)), same_length(b, lo.substr(1), std::string(n - 1, '9'))}));
  if (hi[0] - lo[0] > 1)
    alts.push_back(b.seq({b.bytes(static_cast<uint8_t>(lo[0] + 1), static_cast<uint8_t>(hi[0] - 1)), digits_n(b, n - 1)}));
  alts.push_back(b.seq({b.literal(hi.substr(0, 1)), same_length(b, std::string(n - 1, '0'), hi.substr(1))}));
  return b.alt(alts);
}

// Integers in [a, hi] (hi unbounded when `inf`), written without leading zeros.
Frag uint_range(Builder& b, uint64_t a, uint64_t hi, bool inf) {
  std::vector<Frag> alts;
  size_t da = std::to_string(a).size();
  size_t dmax = inf ? da : std::to_string(hi).size();
  for (size_t d = da; d <= dmax; ++d) {
    uint64_t lo_d = d == 1 ? 0 : pow10(d - 1), hi_d = pow10(d) - 1;
    uint64_t l = std::max(a, lo_d), h = inf ? hi_d : std::min(hi, hi_d);
    if (l <= h) alts.push_back(same_length(b, std::to_string(l), std::to_string(h)));
  }
  if (inf) alts.push_back(b.seq({b.bytes('1', '9'), b.repeat([&] { return digit(b); }, static_cast<int64_t>(da), -1, "number")}));
  if (alts.empty()) return Frag{b.node(), b.node()};
  return b.alt(alts);
}

uint64_t checked(double v, const std::string& ptr) {
  if (std::fabs(v) > kMaxBound)
    throw InvalidArgumentError("JSON schema at '#" + ptr + "': numeric bound " + std::to_string(v) +
                               " beyond 1e15 is not supported");
  return static_cast<uint64_t>(std::fabs(v));
}

Frag never(Builder& b) { return Frag{b.node(), b.node()}; }

// Non-negative decimals (no exponent) whose value lies between the integral
// bounds lo and hi.
Frag magnitude(Builder& b, uint64_t lo, bool lo_excl, uint64_t hi, bool hi_inf, bool hi_excl) {
  auto frac_any = [&] { return b.opt(b.seq({b.literal("."), b.plus(digit(b))})); };
  auto frac_zero = [&] { return b.opt(b.seq({b.literal("."), b.plus(b.literal("0"))})); };
  auto frac_nonzero = [&] {
    return b.seq({b.literal("."), b.star(digit(b)), b.bytes('1', '9'), b.star(digit(b))});
  };
  std::vector<Frag> alts;
  if (hi_inf || lo < hi) {
    if (hi_inf || lo + 1 <= hi - 1) alts.push_back(b.seq({uint_range(b, lo + 1, hi_inf ? 0 : hi - 1, hi_inf), frac_any()}));
    alts.push_back(b.seq({b.literal(std::to_string(lo)), lo_excl ? frac_nonzero() : frac_any()}));
    if (!hi_inf && !hi_excl) alts.push_back(b.seq({b.literal(std::to_string(hi)), frac_zero()}));
  } else if (lo == hi && !lo_excl && !hi_excl) {
    alts.push_back(b.seq({b.literal(std::to_string(lo)), frac_zero()}));
  }
  if (alts.empty()) return never(b);
  return b.alt(alts);
}
}  // namespace

Frag integer_range(Builder& b, const Bounds& bd) {
  double lo = bd.has_lo ? (bd.lo_excl ? std::floor(bd.lo) + 1 : std::ceil(bd.lo)) : 0;
  double hi = bd.has_hi ? (bd.hi_excl ? std::ceil(bd.hi) - 1 : std::floor(bd.hi)) : 0;
  if (bd.has_lo) checked(lo, "");
  if (bd.has_hi) checked(hi, "");
  if (bd.has_lo && bd.has_hi && lo > hi) return never(b);
  std::vector<Frag> alts;
  if (!bd.has_hi || hi >= 0) {
    uint64_t a = bd.has_lo && lo > 0 ? static_cast<uint64_t>(lo) : 0;
    alts.push_back(uint_range(b, a, bd.has_hi ? static_cast<uint64_t>(hi) : 0, !bd.has_hi));
  }
  if (!bd.has_lo || lo < 0) {
    uint64_t a = bd.has_hi && hi < 0 ? static_cast<uint64_t>(-hi) : 1;
    alts.push_back(b.seq({b.literal("-"), uint_range(b, a, bd.has_lo ? static_cast<uint64_t>(-lo) : 0, !bd.has_lo)}));
  }
  return b.alt(alts);
}

Frag number_range(Builder& b, const Bounds& bd, const std::string& ptr) {
  for (auto [has, v, key] : {std::tuple{bd.has_lo, bd.lo, "minimum"}, std::tuple{bd.has_hi, bd.hi, "maximum"}}) {
    if (has && std::floor(v) != v)
      throw InvalidArgumentError("JSON schema at '#" + ptr + "/" + key +
                                 "': a non-integral bound on a 'number' is not supported");
    if (has) checked(v, ptr);
  }
  if (bd.has_lo && bd.has_hi && (bd.lo > bd.hi || (bd.lo == bd.hi && (bd.lo_excl || bd.hi_excl)))) return never(b);
  std::vector<Frag> alts;
  if (!bd.has_hi || bd.hi > 0 || (bd.hi == 0 && !bd.hi_excl)) {
    bool from_lo = bd.has_lo && bd.lo >= 0;
    alts.push_back(magnitude(b, from_lo ? static_cast<uint64_t>(bd.lo) : 0, from_lo && bd.lo_excl,
                             bd.has_hi ? static_cast<uint64_t>(bd.hi) : 0, !bd.has_hi, bd.hi_excl));
  }
  if (!bd.has_lo || bd.lo < 0) {
    bool to_hi = bd.has_hi && bd.hi < 0;
    alts.push_back(b.seq({b.literal("-"), magnitude(b, to_hi ? static_cast<uint64_t>(-bd.hi) : 0, to_hi ? bd.hi_excl : true,
                                                    bd.has_lo ? static_cast<uint64_t>(-bd.lo) : 0, !bd.has_lo, bd.lo_excl)}));
  }
  return b.alt(alts);
}

}  // namespace allm::grammar
