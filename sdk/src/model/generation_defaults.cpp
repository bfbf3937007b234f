// generation_config.json -> GenerationDefaults.
#include <fstream>
#include <sstream>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "allm/model_loader.hpp"

namespace allm {

namespace {

using json = nlohmann::json;

template <typename T>
std::optional<T> number_field(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw ModelLoadError(where + ": \"" + key + "\" is " + it->dump() + ", not a number");
  return it->get<T>();
}

std::vector<int32_t> token_ids(const json& v, const std::string& where, const char* key) {
  std::vector<int32_t> ids;
  auto take = [&](const json& x) {
    if (!x.is_number_integer()) throw ModelLoadError(where + ": \"" + key + "\" holds " + x.dump() + ", not a token id");
    ids.push_back(x.get<int32_t>());
  };
  if (v.is_array())
    for (const auto& x : v) take(x);
  else if (!v.is_null())
    take(v);
  return ids;
}

}  // namespace

GenerationDefaults read_generation_defaults(const std::filesystem::path& model_dir, const json& config) {
  GenerationDefaults g;
  const auto file = model_dir / "generation_config.json";
  json gc = json::object();
  if (std::filesystem::is_regular_file(file)) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (std::string depth = json_depth_error(text); !depth.empty()) throw ModelLoadError(file.string() + ": " + depth);
    try {
      gc = json::parse(text);
    } catch (const json::parse_error& e) {
      throw ModelLoadError(file.string() + ": malformed JSON: " + e.what());
    } catch (const json::exception& e) {
      throw ModelLoadError(file.string() + ": malformed JSON: " + e.what());
    }
    if (!gc.is_object()) throw ModelLoadError(file.string() + ": top level is not an object");
  }
  const std::string where = file.string();
  g.temperature = number_field<double>(gc, "temperature", where);
  g.top_p = number_field<double>(gc, "top_p", where);
  g.min_p = number_field<double>(gc, "min_p", where);
  g.repetition_penalty = number_field<double>(gc, "repetition_penalty", where);
  g.top_k = number_field<int>(gc, "top_k", where);
  if (auto it = gc.find("do_sample"); it != gc.end() && it->is_boolean()) g.do_sample = it->get<bool>();
  if (auto it = gc.find("eos_token_id"); it != gc.end()) g.eos_token_ids = token_ids(*it, where, "eos_token_id");
  if (g.eos_token_ids.empty())
    if (auto it = config.find("eos_token_id"); it != config.end())
      g.eos_token_ids = token_ids(*it, "config.json", "eos_token_id");
  for (const json* src : {static_cast<const json*>(&gc), &config}) {
    auto it = src->find("bos_token_id");
    if (it != src->end() && it->is_number_integer()) {
      g.bos_token_id = it->get<int32_t>();
      break;
    }
  }
  return g;
}

}  // namespace allm
