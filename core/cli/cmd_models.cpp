// allm models [list|show MODEL] [--json]: what is on disk (the models bundled
// with allm, the Hugging Face cache); details of one checkpoint.
#include <ctime>
#include <iomanip>
#include <map>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "allm/byte_size.hpp"
#include "allm/error.hpp"
#include "allm/kv_pool.hpp"
#include "allm/model_loader.hpp"
#include "allm/tensor.hpp"
#include "bundled_models.hpp"
#include "command.hpp"
#include "context.hpp"
#include "model_choice.hpp"
#include "models_extra.hpp"
#include "models_tensor_parallel.hpp"
#include "remote_providers.hpp"

namespace allm::cli {

namespace {

using json = nlohmann::json;

std::string utc_time(int64_t seconds) {
  if (seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string revisions_text(const HfCachedRepo& r) {
  std::string out;
  for (const auto& rev : r.revisions) {
    if (!out.empty()) out += ' ';
    for (size_t i = 0; i < rev.refs.size(); ++i) {
      if (i) out += ',';
      out += rev.refs[i];
    }
    if (!rev.refs.empty()) out += '@';
    out.append(rev.commit, 0, 12);
  }
  return out.empty() ? "(no snapshots)" : out;
}

uint64_t directory_bytes(const std::filesystem::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  return total;
}

// A CLI process never holds models between commands, so only what is on disk
// is listed (a server lists what it keeps loaded through its own API).
int list_models(bool as_json) {
  const auto cache_dir = hf_hub_cache_dir();
  const auto repos = scan_hf_cache(cache_dir);
  const std::string default_spec = host().config().merged().value("default_model", std::string());
  const auto default_bundled = bundled_model(default_spec);
  const auto bundled = bundled_models();

  if (as_json) {
    json out = {{"default_model", default_spec},
                {"bundled", json::array()},
                {"hf_cache", {{"path", cache_dir.string()}, {"repos", json::array()}}}};
    for (const auto& m : bundled)
      out["bundled"].push_back({{"name", m.filename().string()},
                                {"path", m.string()},
                                {"size_on_disk", directory_bytes(m)},
                                {"default", default_bundled && *default_bundled == m.string()}});
    for (const auto& r : repos) {
      json revs = json::array();
      for (const auto& rev : r.revisions)
        revs.push_back({{"commit", rev.commit}, {"refs", rev.refs}, {"snapshot", rev.snapshot.string()}});
      const auto [format, quant] =
          r.revisions.empty() ? std::pair<std::string, std::string>{} : describe_checkpoint(r.revisions.front().snapshot);
      out["hf_cache"]["repos"].push_back({{"repo", r.repo_id},
                                          {"format", format},
                                          {"quantization", quant},
                                          {"path", r.path.string()},
                                          {"revisions", revs},
                                          {"size_on_disk", r.size_on_disk},
                                          {"last_used", utc_time(r.last_used)},
                                          {"last_used_unix", r.last_used}});
    }
    const json stores = stored_models_json();
    for (auto it = stores.begin(); it != stores.end(); ++it) out[it.key()] = it.value();
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  std::cout << "Default model: " << (default_spec.empty() ? "(none: config default_model is empty)" : default_spec)
            << "\n\n";
  if (!bundled.empty()) {
    std::cout << "Bundled with allm: " << bundled.front().parent_path().string() << "\n";
    for (const auto& m : bundled)
      std::cout << "  " << std::left << std::setw(20) << m.filename().string() << "  " << std::setw(10)
                << byte_size_text(directory_bytes(m))
                << (default_bundled && *default_bundled == m.string() ? "  (default)" : "") << "\n";
    std::cout << "\n";
  }
  std::cout << "Hugging Face cache: " << cache_dir.string() << "\n";
  if (repos.empty()) {
    std::cout << "  (no models)\n";
  } else {
    size_t w = 4;
    for (const auto& r : repos) w = std::max(w, r.repo_id.size());
    std::cout << "  " << std::left << std::setw(static_cast<int>(w)) << "REPO" << "  " << std::setw(11) << "FORMAT"
              << "  " << std::setw(9) << "QUANT" << "  " << std::setw(10) << "SIZE" << "  " << std::setw(20)
              << "LAST USED" << "  REVISIONS\n";
    for (const auto& r : repos) {
      const auto [format, quant] = r.revisions.empty() ? std::pair<std::string, std::string>{"-", "-"}
                                                       : describe_checkpoint(r.revisions.front().snapshot);
      std::cout << "  " << std::setw(static_cast<int>(w)) << r.repo_id << "  " << std::setw(11) << format << "  "
                << std::setw(9) << (quant.empty() ? "-" : quant) << "  " << std::setw(10) << byte_size_text(r.size_on_disk)
                << "  " << std::setw(20) << utc_time(r.last_used) << "  " << revisions_text(r) << "\n";
    }
  }
  print_stored_models(std::cout);
  return 0;
}

// What the weights are made of: parameters and tensors per storage type.
struct WeightSummary {
  uint64_t parameters = 0;
  std::map<std::string, std::pair<size_t, uint64_t>> by_type;  // dtype name -> (tensors, parameters)
  std::string main_type;  // the type holding the most parameters
};

WeightSummary summarize_weights(const Checkpoint& ck) {
  WeightSummary w;
  if (!ck.weights) return w;
  const bool mlx = ck.quantization.mode == "affine" && ck.quantization.bits > 0;
  for (const auto& name : ck.weights->names()) {
    const Tensor& t = ck.weights->get(name);
    uint64_t n = static_cast<uint64_t>(t.numel());
    if (t.dtype == DType::MLX_AFFINE && mlx) n = n * 32 / static_cast<uint64_t>(ck.quantization.bits);
    auto& slot = w.by_type[dtype_name(t.dtype)];
    slot.first++;
    slot.second += n;
    w.parameters += n;
  }
  uint64_t most = 0;
  for (const auto& [type, counts] : w.by_type)
    if (counts.second > most) most = counts.second, w.main_type = type;
  return w;
}

std::string human_count(uint64_t n) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(n >= 1000000000ull ? 2 : 1);
  if (n >= 1000000000ull) os << double(n) / 1e9 << " B";
  else if (n >= 1000000ull) os << double(n) / 1e6 << " M";
  else if (n >= 1000ull) os << double(n) / 1e3 << " K";
  else return std::to_string(n);
  return os.str();
}

int64_t config_int(const json& config, const char* key) {
  auto it = config.find(key);
  return it != config.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// --tensor-parallel N [--device-memory SIZE] [--kv-type T] of allm models show.
struct TensorParallelQuery {
  int ranks = 0;  // 0: not asked
  std::optional<uint64_t> device_memory;
  std::optional<KVType> kv_type;
};

int show_model(const std::string& spec, std::optional<long long> context, bool as_json, const TensorParallelQuery& tp) {
  const ModelChoice model = choose_model(spec);
  const ResolvedModel& r = model.local_model("allm models show");
  host().plugins();  // a GGUF file's family (its names, its config) comes with its architecture plugin
  Checkpoint ck = load_checkpoint(r.path);
  if (r.stored) apply_stored_defaults(*r.stored, ck);  // Ollama's params layer, as `allm run` uses it
  const auto& cfg = host().config().merged();
  const int64_t model_context = config_int(ck.config, "max_position_embeddings");
  int64_t ctx = context ? *context : cfg.value("context_length", int64_t{4096});
  // The KV cache never grows past what the model can attend to.
  const bool capped = model_context > 0 && ctx > model_context;
  if (capped) ctx = model_context;
  const MemoryEstimate mem = estimate_memory(ck, ctx);
  const WeightSummary weights = summarize_weights(ck);
  // GGUF stores each tensor in its own type: report the one holding most of the
  // parameters (the quantization), not the float type of the norms.
  const bool gguf = ck.quantization.mode == "gguf";
  const std::string dtype = gguf && !weights.main_type.empty() ? weights.main_type : ck.dtype;
  json quant = {{"mode", ck.quantization.mode}, {"bits", ck.quantization.bits}, {"group_size", ck.quantization.group_size}};
  if (gguf && !weights.main_type.empty()) {
    const DType main = [&] {
      for (const auto& name : ck.weights->names())
        if (dtype_name(ck.weights->get(name).dtype) == weights.main_type) return ck.weights->get(name).dtype;
      return DType::F32;
    }();
    const double bits = dtype_size(main) ? 8.0 * double(dtype_size(main))
                                         : 8.0 * double(dtype_block_bytes(main)) / double(dtype_block_elems(main));
    quant = {{"mode", "gguf"}, {"type", weights.main_type}, {"bits_per_weight", bits},
             {"group_size", dtype_size(main) ? 0 : dtype_block_elems(main)}};
  }
  json gen = json::object();
  const auto& g = ck.generation;
  if (g.temperature) gen["temperature"] = *g.temperature;
  if (g.top_p) gen["top_p"] = *g.top_p;
  if (g.top_k) gen["top_k"] = *g.top_k;
  if (g.min_p) gen["min_p"] = *g.min_p;
  if (g.repetition_penalty) gen["repetition_penalty"] = *g.repetition_penalty;
  if (g.do_sample) gen["do_sample"] = *g.do_sample;
  gen["eos_token_ids"] = g.eos_token_ids;
  if (g.bos_token_id) gen["bos_token_id"] = *g.bos_token_id;
  json types = json::object();
  for (const auto& [type, counts] : weights.by_type) types[type] = {{"tensors", counts.first}, {"parameters", counts.second}};
  json out = {{"spec", spec},
              {"path", r.path.string()},
              {"kind", r.kind},
              {"model_type", ck.model_type},
              {"parameters", weights.parameters},
              {"model_context_length", model_context},
              {"layers", config_int(ck.config, "num_hidden_layers")},
              {"hidden_size", config_int(ck.config, "hidden_size")},
              {"vocab_size", config_int(ck.config, "vocab_size")},
              {"dtype", dtype},
              {"tensor_types", types},
              {"quantization", quant},
              {"tensors", ck.weights ? ck.weights->names().size() : 0},
              {"weight_bytes", mem.weight_bytes},
              {"context_length", ctx},
              {"kv_cache_bytes", mem.kv_cache_bytes},
              {"generation_defaults", gen},
              {"tokenizer_json", ck.tokenizer_json ? ck.tokenizer_json->string() : ""},
              {"chat_template", ck.chat_template.has_value()}};
  if (!r.repo_id.empty()) out["hf"] = {{"repo", r.repo_id}, {"revision", r.revision}, {"commit", r.commit}};
  if (mem.available_bytes) out["available_bytes"] = *mem.available_bytes;
  if (tp.ranks > 0) {
    const KVType kv = tp.kv_type ? *tp.kv_type : parse_kv_type(cfg.value("kv_type", std::string("f32")), "kv_type");
    out["tensor_parallel"] = tensor_parallel_report(ck, spec, tp.ranks, ctx, kv, tp.device_memory);
  }
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::string quant_text = "none";
  if (gguf && quant.contains("type")) {
    std::ostringstream os;
    os << "gguf " << weights.main_type << " (" << std::setprecision(3) << quant["bits_per_weight"].get<double>()
       << " bits per weight)";
    quant_text = os.str();
  } else if (!ck.quantization.mode.empty()) {
    quant_text = ck.quantization.mode + " " + std::to_string(ck.quantization.bits) + "-bit, group " +
                 std::to_string(ck.quantization.group_size);
  }
  std::string type_text;
  for (const auto& [type, counts] : weights.by_type)
    type_text += (type_text.empty() ? "" : ", ") + type + " x" + std::to_string(counts.first);
  std::cout << "Model:          " << spec << "\nPath:           " << r.path.string() << " (" << r.kind << ")\n";
  if (!r.repo_id.empty()) std::cout << "HF revision:    " << r.revision << " -> " << r.commit << "\n";
  std::cout << "Architecture:   " << ck.model_type << "\n"
            << "Parameters:     " << human_count(weights.parameters) << " (" << weights.parameters << ")\n"
            << "Context length: " << (model_context > 0 ? std::to_string(model_context) : std::string("unknown")) << "\n"
            << "Layers:         " << out["layers"].get<int64_t>() << "\n"
            << "Hidden size:    " << out["hidden_size"].get<int64_t>() << "\n"
            << "Vocabulary:     " << out["vocab_size"].get<int64_t>() << "\n"
            << "Dtype:          " << dtype << "\n"
            << "Quantization:   " << quant_text << "\n"
            << "Tensors:        " << out["tensors"].get<size_t>() << " (" << byte_size_text(mem.weight_bytes) << "; "
            << type_text << ")\n"
            << "KV cache:       " << byte_size_text(mem.kv_cache_bytes) << " for " << ctx << " tokens"
            << (capped ? " (the model's maximum)" : "") << "\n"
            << "Generation:     " << gen.dump() << "\n"
            << "Chat template:  " << (ck.chat_template ? "yes" : "no") << "\n";
  if (out.contains("tensor_parallel")) print_tensor_parallel(out["tensor_parallel"], std::cout);
  return 0;
}

// allm models list --remote: each remote provider's endpoint models, as
// PROVIDER:ID names that allm run takes, with what the provider maps.
static int list_remote_models(bool as_json) {
  host().plugins();
  nlohmann::json out = nlohmann::json::object();
  for (auto& e : Registry::instance().list(ALLM_KIND_PROVIDER))
    if (e.name != "local") out[e.name] = remote_provider_status(e.name, true);
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (auto& [name, st] : out.items()) {
    if (!st["configured"].get<bool>()) {
      std::cout << name << ": not configured: " << st["reason"].get<std::string>() << "\n";
      continue;
    }
    std::cout << name << " (" << st["base_url"].get<std::string>() << ", key " << st["api_key"].get<std::string>()
              << ")\n";
    const auto& info = st["capabilities"]["model_info"];
    std::cout << "  parameters: " << info["parameters"].dump() << "; not in this API: "
              << info["unsupported_parameters"].dump() << "\n";
    if (st.contains("error")) std::cout << "  error: " << st["error"].get<std::string>() << "\n";
    for (auto& id : st.value("models", nlohmann::json::array())) std::cout << "  " << name << ":" << id.get<std::string>() << "\n";
  }
  return 0;
}

int run_models(Args& args) {
  const bool as_json = args.flag("json");
  const auto context = args.integer("context");
  const bool fits = args.flag("fits");
  const bool dry_run = args.flag("dry-run");
  const bool remote = args.flag("remote");
  const auto memory = args.integer("memory");
  TensorParallelQuery tp;
  if (const auto ranks = args.integer("tensor-parallel")) {
    if (*ranks < 1 || *ranks > 1024)
      throw InvalidArgumentError("--tensor-parallel must be between 1 and 1024, got " + std::to_string(*ranks));
    tp.ranks = static_cast<int>(*ranks);
  }
  if (const auto size = args.value("device-memory")) tp.device_memory = parse_byte_size(*size, "--device-memory");
  if (const auto type = args.value("kv-type")) tp.kv_type = parse_kv_type(*type, "--kv-type");
  if ((tp.device_memory || tp.kv_type) && tp.ranks == 0)
    throw InvalidArgumentError("--device-memory and --kv-type go with --tensor-parallel N (allm models show)");
  auto pos = args.positionals();
  args.finish();
  const std::string action = pos.empty() ? "list" : pos[0];
  if (action == "list") {
    if (pos.size() > 1) throw InvalidArgumentError("allm models list takes no arguments");
    return remote ? list_remote_models(as_json) : list_models(as_json);
  }
  if (action == "show") {
    if (pos.size() != 2)
      throw InvalidArgumentError(
          "usage: allm models show MODEL [--context N] [--tensor-parallel N [--device-memory SIZE] [--kv-type T]] [--json]");
    return show_model(pos[1], context, as_json, tp);
  }
  if (tp.ranks > 0) throw InvalidArgumentError("--tensor-parallel goes with allm models show MODEL");
  if (action == "search") {
    if (pos.size() > 2) throw InvalidArgumentError("usage: allm models search [TEXT] [--fits] [--context N] [--memory BYTES]");
    if (memory && *memory <= 0) throw InvalidArgumentError("--memory must be a positive number of bytes");
    if (context && *context <= 0) throw InvalidArgumentError("--context must be positive");
    return search_catalog(pos.size() == 2 ? pos[1] : "", fits, context.value_or(0),
                          memory ? std::optional<uint64_t>(static_cast<uint64_t>(*memory)) : std::nullopt, as_json);
  }
  if (action == "rm") {
    if (pos.size() != 2) throw InvalidArgumentError("usage: allm models rm REPO[@REVISION] [--dry-run]");
    return remove_cached(pos[1], dry_run, as_json);
  }
  throw InvalidArgumentError("unknown action '" + action + "' (expected list, show, search or rm)");
}

}  // namespace

ALLM_CLI_COMMAND(models, "List bundled and cached models, or show one checkpoint",
                 "Usage: allm models [list] [--json]\n"
                 "       allm models show MODEL [--context N] [--json]\n"
                 "                        [--tensor-parallel N [--device-memory SIZE] [--kv-type T]]\n"
                 "       allm models search [TEXT] [--fits] [--context N] [--memory BYTES] [--json]\n"
                 "       allm models rm REPO[@REVISION] [--dry-run] [--json]\n\n"
                 "list  Shows the default model (config default_model), the models bundled\n"
                 "      with allm (found next to the executable; usable by name, e.g.\n"
                 "      allm-tiny) and the local Hugging Face cache ($HF_HUB_CACHE, else\n"
                 "      $HF_HOME/hub, else ~/.cache/huggingface/hub): each repo with its\n"
                 "      revisions (ref@commit), size on disk and last use (newest\n"
                 "      access/modification time of its files).\n"
                 "show  Resolves MODEL (a directory, a .safetensors/.gguf file, a bundled\n"
                 "      model's name or a HF repo id org/name[@revision] in the local cache),\n"
                 "      loads it and prints its architecture, parameter count, context\n"
                 "      length, layers, vocabulary, dtype and quantization (for GGUF: the\n"
                 "      type holding most parameters), tensor count and bytes, the KV cache\n"
                 "      for N tokens (default: context_length from the config, capped at the\n"
                 "      model's own) and the generation defaults.\n"
                 "      MODEL may also be ollama-local:NAME or lmstudio:NAME.\n"
                 "      --tensor-parallel N: the model divided over N devices (heads, MLP\n"
                 "      columns, experts, vocabulary; docs/multi-gpu.md): each device's\n"
                 "      weight bytes, KV bytes per position and for --context tokens, and with\n"
                 "      --device-memory SIZE (e.g. 139G) whether that fits on each. A plan only:\n"
                 "      allm does not run a model over several GPUs yet. A model that cannot\n"
                 "      be divided over N is refused with the count that does not divide.\n"
                 "search  The curated catalog (config/models-catalog.json): models whose\n"
                 "      name, family, description, licence or capability holds TEXT, with\n"
                 "      the memory each variant needs (weights + KV cache at --context,\n"
                 "      default min(4096, its context)) against free memory (or --memory),\n"
                 "      and the variant that fits. --fits shows only models that fit.\n"
                 "rm    Removes a repo from the HF cache, or one revision of it: its\n"
                 "      snapshot, refs, and the blobs no other revision links to.\n"
                 "list also shows Ollama's store ($OLLAMA_MODELS, else ~/.ollama/models)\n"
                 "and LM Studio's models folder ($LMSTUDIO_MODELS, else ~/.lmstudio/models).\n\n"
                 "  --remote      list: the models of each remote provider's endpoint\n"
                 "                (openai, anthropic, ollama; docs/providers.md) as\n"
                 "                PROVIDER:ID, with the parameters each API maps\n"
                 "  --context N   context length for the KV-cache estimate (show)\n"
                 "  --kv-type T   KV storage for --tensor-parallel: f32, f16, q8_0 (default: config kv_type)\n"
                 "  --json        print JSON instead of text\n\n"
                 "Models are downloaded with `allm pull` (or huggingface-cli), never by this command.",
                 run_models)

}  // namespace allm::cli
