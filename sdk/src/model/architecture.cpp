// Which architecture a checkpoint needs: model_type, else the transformers
// class name, else the directory name.
#include <algorithm>
#include <cctype>

#include "allm/error.hpp"
#include "allm/model_loader.hpp"

namespace allm {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Class names whose model_type is not simply the lower-cased prefix.
struct ArchName {
  const char* architecture;
  const char* model_type;
};
constexpr ArchName kKnownArchitectures[] = {
    {"LlamaForCausalLM", "llama"},
    {"MistralForCausalLM", "mistral"},
    {"MixtralForCausalLM", "mixtral"},
    {"Qwen2ForCausalLM", "qwen2"},
    {"Qwen2MoeForCausalLM", "qwen2_moe"},
    {"Qwen3ForCausalLM", "qwen3"},
    {"Qwen3MoeForCausalLM", "qwen3_moe"},
    {"GemmaForCausalLM", "gemma"},
    {"Gemma2ForCausalLM", "gemma2"},
    {"Gemma3ForCausalLM", "gemma3_text"},
    {"Gemma3ForConditionalGeneration", "gemma3"},
    {"PhiForCausalLM", "phi"},
    {"Phi3ForCausalLM", "phi3"},
    {"MistralForConditionalGeneration", "mistral3"},
    {"Mistral3ForConditionalGeneration", "mistral3"},
    {"GPTNeoXForCausalLM", "gpt_neox"},
    {"GPT2LMHeadModel", "gpt2"},
    {"DeepseekV3ForCausalLM", "deepseek_v3"},
    {"GptOssForCausalLM", "gpt_oss"},
};

// Directory-name fallback: most specific spelling first (qwen3_moe before
// qwen3, mixtral before mistral, gemma3 before gemma).
struct DirHint {
  const char* needle;
  const char* model_type;
};
constexpr DirHint kDirHints[] = {
    {"qwen3_moe", "qwen3_moe"}, {"qwen3-moe", "qwen3_moe"}, {"qwen3moe", "qwen3_moe"},
    {"qwen2_moe", "qwen2_moe"}, {"qwen2-moe", "qwen2_moe"}, {"qwen3", "qwen3"},
    {"qwen2", "qwen2"},         {"mixtral", "mixtral"},     {"mistral", "mistral"},
    {"gemma-3", "gemma3_text"}, {"gemma3", "gemma3_text"},  {"gemma-2", "gemma2"},
    {"gemma2", "gemma2"},       {"gemma", "gemma"},         {"phi-3", "phi3"},
    {"phi3", "phi3"},           {"phi", "phi"},             {"llama", "llama"},
};

}  // namespace

std::string model_type_from_architecture(const std::string& architecture) {
  for (const auto& a : kKnownArchitectures)
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
  for (const auto& h : kDirHints)
    if (name.find(h.needle) != std::string::npos) return h.model_type;
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
