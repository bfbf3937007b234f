// GenerationParams: JSON form, fallback chain and range checks.
#include <cmath>
#include <limits>

#include "allm/error.hpp"
#include "allm/provider.hpp"
#include "allm/provider/generation.hpp"

namespace allm {

namespace {

using nlohmann::json;

double read_number(const json& v, const std::string& at) {
  if (!v.is_number()) throw InvalidArgumentError(at + ": expected a number, got " + std::string(v.type_name()));
  return v.get<double>();
}

int64_t read_integer(const json& v, const std::string& at) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
  }
  throw InvalidArgumentError(at + ": expected an integer, got " + v.dump());
}

int read_int(const json& v, const std::string& at) {
  int64_t x = read_integer(v, at);
  if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
    throw InvalidArgumentError(at + ": " + std::to_string(x) + " is out of range");
  return static_cast<int>(x);
}

template <class T>
void fill(std::optional<T>& dst, const std::optional<T>& src) {
  if (!dst && src) dst = src;
}

}  // namespace

GenerationParams GenerationParams::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw InvalidArgumentError(where + ": expected an object, got " + std::string(j.type_name()));
  GenerationParams p;
  for (auto& [key, v] : j.items()) {
    const std::string at = where + "." + key;
    if (v.is_null()) continue;  // explicit null = unset
    if (key == "temperature") p.temperature = read_number(v, at);
    else if (key == "top_p") p.top_p = read_number(v, at);
    else if (key == "top_k") p.top_k = read_int(v, at);
    else if (key == "min_p") p.min_p = read_number(v, at);
    else if (key == "repetition_penalty") p.repetition_penalty = read_number(v, at);
    else if (key == "presence_penalty") p.presence_penalty = read_number(v, at);
    else if (key == "frequency_penalty") p.frequency_penalty = read_number(v, at);
    else if (key == "seed") p.seed = read_integer(v, at);
    else if (key == "max_tokens") p.max_tokens = read_int(v, at);
    else if (key == "ignore_eos") {
      if (!v.is_boolean()) throw InvalidArgumentError(at + ": expected true or false, got " + v.dump());
      p.ignore_eos = v.get<bool>();
    } else if (key == "stop") {
      std::vector<std::string> stops;
      if (v.is_string()) {
        stops.push_back(v.get<std::string>());
      } else if (v.is_array()) {
        for (size_t i = 0; i < v.size(); ++i) {
          if (!v[i].is_string())
            throw InvalidArgumentError(at + "[" + std::to_string(i) + "]: expected a string, got " + v[i].dump());
          stops.push_back(v[i].get<std::string>());
        }
      } else {
        throw InvalidArgumentError(at + ": expected a string or an array of strings");
      }
      p.stop = std::move(stops);
    } else {
      throw InvalidArgumentError(at + ": unknown generation parameter");
    }
  }
  return p;
}

json GenerationParams::to_json() const {
  json j = json::object();
  if (temperature) j["temperature"] = *temperature;
  if (top_p) j["top_p"] = *top_p;
  if (top_k) j["top_k"] = *top_k;
  if (min_p) j["min_p"] = *min_p;
  if (repetition_penalty) j["repetition_penalty"] = *repetition_penalty;
  if (presence_penalty) j["presence_penalty"] = *presence_penalty;
  if (frequency_penalty) j["frequency_penalty"] = *frequency_penalty;
  if (seed) j["seed"] = *seed;
  if (max_tokens) j["max_tokens"] = *max_tokens;
  if (stop) j["stop"] = *stop;
  if (ignore_eos) j["ignore_eos"] = *ignore_eos;
  return j;
}

GenerationParams GenerationParams::with_fallback(const GenerationParams& fb) const {
  GenerationParams p = *this;
  fill(p.temperature, fb.temperature);
  fill(p.top_p, fb.top_p);
  fill(p.top_k, fb.top_k);
  fill(p.min_p, fb.min_p);
  fill(p.repetition_penalty, fb.repetition_penalty);
  fill(p.presence_penalty, fb.presence_penalty);
  fill(p.frequency_penalty, fb.frequency_penalty);
  fill(p.seed, fb.seed);
  fill(p.max_tokens, fb.max_tokens);
  fill(p.stop, fb.stop);
  fill(p.ignore_eos, fb.ignore_eos);
  return p;
}

void GenerationParams::validate(const std::string& where) const {
  auto bad = [&](const char* field, const std::string& value, const char* rule) {
    throw InvalidArgumentError(where + "." + field + " = " + value + ": " + rule);
  };
  auto finite = [&](const std::optional<double>& v, const char* field) {
    if (v && !std::isfinite(*v)) bad(field, std::to_string(*v), "must be a finite number");
  };
  finite(temperature, "temperature");
  finite(top_p, "top_p");
  finite(min_p, "min_p");
  finite(repetition_penalty, "repetition_penalty");
  finite(presence_penalty, "presence_penalty");
  finite(frequency_penalty, "frequency_penalty");
  if (temperature && *temperature < 0) bad("temperature", std::to_string(*temperature), "must be >= 0");
  if (top_p && (*top_p <= 0 || *top_p > 1)) bad("top_p", std::to_string(*top_p), "must be in (0, 1]");
  if (top_k && *top_k < 0) bad("top_k", std::to_string(*top_k), "must be >= 0 (0 = off)");
  if (min_p && (*min_p < 0 || *min_p > 1)) bad("min_p", std::to_string(*min_p), "must be in [0, 1]");
  if (repetition_penalty && *repetition_penalty <= 0)
    bad("repetition_penalty", std::to_string(*repetition_penalty), "must be > 0 (1 = off)");
  if (presence_penalty && std::fabs(*presence_penalty) > 2)
    bad("presence_penalty", std::to_string(*presence_penalty), "must be in [-2, 2]");
  if (frequency_penalty && std::fabs(*frequency_penalty) > 2)
    bad("frequency_penalty", std::to_string(*frequency_penalty), "must be in [-2, 2]");
  if (seed && *seed < -1) bad("seed", std::to_string(*seed), "must be >= 0, or -1 for random");
  if (max_tokens && *max_tokens <= 0) bad("max_tokens", std::to_string(*max_tokens), "must be > 0");
  if (stop)
    for (size_t i = 0; i < stop->size(); ++i)
      if ((*stop)[i].empty()) bad(("stop[" + std::to_string(i) + "]").c_str(), "\"\"", "must not be empty");
}

const char* truncation_policy_name(TruncationPolicy p) noexcept {
  switch (p) {
    case TruncationPolicy::error: return "error";
    case TruncationPolicy::drop_oldest: return "drop_oldest";
    case TruncationPolicy::truncate_left: return "truncate_left";
  }
  return "error";
}

TruncationPolicy truncation_policy_from_name(const std::string& name) {
  for (auto p : {TruncationPolicy::error, TruncationPolicy::drop_oldest, TruncationPolicy::truncate_left})
    if (name == truncation_policy_name(p)) return p;
  throw InvalidArgumentError("unknown truncation policy '" + name +
                             "' (expected error, drop_oldest or truncate_left)");
}

GenerationParams params_from_model_defaults(const GenerationDefaults& d) {
  GenerationParams p;
  p.temperature = d.temperature;
  p.top_p = d.top_p;
  p.min_p = d.min_p;
  p.repetition_penalty = d.repetition_penalty;
  p.top_k = d.top_k;
  // do_sample: false means the checkpoint wants greedy decoding whatever its
  // temperature says (transformers ignores the sampling knobs then).
  if (d.do_sample && !*d.do_sample) p.temperature = 0.0;
  return p;
}

ResolvedParams resolve_generation_params(const GenerationParams& request, const GenerationParams& model,
                                         const GenerationParams& config) {
  request.validate("request.params");
  model.validate("model generation_config");
  config.validate("config generation");
  GenerationParams p = request.with_fallback(model).with_fallback(config);
  ResolvedParams r;
  r.temperature = p.temperature.value_or(r.temperature);
  r.top_p = p.top_p.value_or(r.top_p);
  r.top_k = p.top_k.value_or(r.top_k);
  r.min_p = p.min_p.value_or(r.min_p);
  r.repetition_penalty = p.repetition_penalty.value_or(r.repetition_penalty);
  r.presence_penalty = p.presence_penalty.value_or(r.presence_penalty);
  r.frequency_penalty = p.frequency_penalty.value_or(r.frequency_penalty);
  r.seed = p.seed.value_or(r.seed);
  r.max_tokens = p.max_tokens.value_or(r.max_tokens);
  r.stop = p.stop.value_or(std::vector<std::string>{});
  r.ignore_eos = p.ignore_eos.value_or(false);
  return r;
}

}  // namespace allm
