// Which architecture a checkpoint needs: model_type, else the transformers
// class name, else the directory name. The names of each family with a plugin
// come from the plugin (model_type_names.hpp).
#include <algorithm>
#include <cctype>
#include <mutex>
#include <utility>
#include <vector>

#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "allm/model_type_names.hpp"

namespace allm {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Class names of families that have no architecture plugin here (so that a
// checkpoint of one is named in the "no architecture plugin" error); the
// families with a plugin declare theirs (model_type_names.hpp).
struct ArchName {
  const char* architecture;
  const char* model_type;
};
constexpr ArchName kOtherArchitectures[] = {
    {"Qwen2MoeForCausalLM", "qwen2_moe"},
    {"GemmaForCausalLM", "gemma"},
    {"Gemma3ForConditionalGeneration", "gemma3"},
    {"PhiForCausalLM", "phi"},
    {"MistralForConditionalGeneration", "mistral3"},
    {"Mistral3ForConditionalGeneration", "mistral3"},
    {"GPTNeoXForCausalLM", "gpt_neox"},
    {"GPT2LMHeadModel", "gpt2"},
    {"DeepseekV3ForCausalLM", "deepseek_v3"},
};
// Their folder-name spellings.
const std::pair<const char*, const char*> kOtherDirHints[] = {
    {"qwen2_moe", "qwen2_moe"}, {"qwen2-moe", "qwen2_moe"}, {"gemma", "gemma"}, {"phi", "phi"}};

struct Declared {
  std::mutex mutex;
  std::vector<ModelTypeNames> families;
};

Declared& declared() {
  static Declared d;
  return d;
}

}  // namespace

void register_model_type_names(ModelTypeNames names) {
  auto& d = declared();
  std::lock_guard lock(d.mutex);
  for (auto& f : d.families)
    if (f.model_type == names.model_type) {
      f = std::move(names);
      return;
    }
  d.families.push_back(std::move(names));
}

namespace {

// Folder-name hints of every declared family, longest first (qwen3_moe before
// qwen3, gemma-3 before gemma).
std::vector<std::pair<std::string, std::string>> dir_hints() {
  auto& d = declared();
  std::lock_guard lock(d.mutex);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : d.families)
    for (const auto& h : f.dir_hints) out.emplace_back(h, f.model_type);
  for (const auto& [needle, model_type] : kOtherDirHints) out.emplace_back(needle, model_type);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  return out;
}

}  // namespace

std::string model_type_from_architecture(const std::string& architecture) {
  {
    auto& d = declared();
    std::lock_guard lock(d.mutex);
    for (const auto& f : d.families)
      for (const auto& c : f.classes)
        if (c == architecture) return f.model_type;
  }
  for (const auto& a : kOtherArchitectures)
    if (architecture == a.architecture) return a.model_type;
  // Generic rule for the rest: "FooBarForCausalLM" -> "foobar".
  static const std::string kSuffix = "ForCausalLM";
  if (architecture.size() > kSuffix.size() && architecture.ends_with(kSuffix))
    return lower(architecture.substr(0, architecture.size() - kSuffix.size()));
  return "";
}

std::string detect_model_type(const nlohmann::json& config, const std::filesystem::path& model_dir) {
  if (auto it = config.find("model_type"); it != config.end() && it->is_string() && !it->get<std::string>().empty())
    return it->get<std::string>();
  if (auto it = config.find("architectures"); it != config.end() && it->is_array()) {
    for (const auto& a : *it) {
      if (!a.is_string()) continue;
      std::string mt = model_type_from_architecture(a.get<std::string>());
      if (!mt.empty()) return mt;
    }
  }
  // An HF cache snapshot is named by its hash; the repo folder names the model.
  std::string name;
  std::error_code ec;
  auto dir = model_dir.empty() ? model_dir : std::filesystem::absolute(model_dir, ec).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();
  for (auto p = dir; !p.empty() && p.has_filename(); p = p.parent_path()) {
    name = lower(p.filename().string());
    const bool is_hash = name.size() >= 7 && name.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!is_hash && name != "snapshots") break;
  }
  for (const auto& [needle, model_type] : dir_hints())
    if (name.find(needle) != std::string::npos) return model_type;
  return "";
}

void require_architecture(const std::string& model_type, const std::vector<std::string>& installed) {
  if (std::find(installed.begin(), installed.end(), model_type) != installed.end()) return;
  std::string list;
  for (const auto& n : installed) list += (list.empty() ? "" : ", ") + n;
  if (list.empty()) list = "none";
  throw UnsupportedError("model_type '" + (model_type.empty() ? std::string("(unknown)") : model_type) +
                         "' has no architecture plugin; installed architectures: " + list);
}

}  // namespace allm
