// allm models [list|show MODEL] [--json]: what is on disk (the Hugging Face
// cache) and what this process has loaded; details of one checkpoint.
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "command.hpp"
#include "context.hpp"
#include "models_extra.hpp"

namespace allm::cli {

namespace {

using json = nlohmann::json;

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  std::ostringstream os;
  os << std::fixed << std::setprecision(u == 0 ? 0 : 1) << v << " " << units[u];
  return os.str();
}

std::string utc_time(int64_t seconds) {
  if (seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string utc_time(std::chrono::system_clock::time_point tp) {
  return utc_time(std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count());
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

int list_models(bool as_json) {
  const auto cache_dir = hf_hub_cache_dir();
  const auto repos = scan_hf_cache(cache_dir);
  auto& cache = ModelCache::instance();
  const auto& cfg = host().config().merged();
  if (cfg.contains("max_cached_models") && cfg["max_cached_models"].is_number_unsigned())
    cache.set_capacity(cfg["max_cached_models"].get<size_t>());
  const auto loaded = cache.list();

  if (as_json) {
    json out = {{"hf_cache", {{"path", cache_dir.string()}, {"repos", json::array()}}},
                {"loaded", json::array()},
                {"max_cached_models", cache.capacity()}};
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
    for (const auto& m : loaded)
      out["loaded"].push_back({{"key", m.key},
                               {"type", m.type},
                               {"bytes", m.bytes},
                               {"hits", m.hits},
                               {"loaded_at", utc_time(m.loaded_at)},
                               {"last_used", utc_time(m.last_used)}});
    std::cout << out.dump(2) << "\n";
    return 0;
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
                << std::setw(9) << (quant.empty() ? "-" : quant) << "  " << std::setw(10) << human_bytes(r.size_on_disk)
                << "  " << std::setw(20) << utc_time(r.last_used) << "  " << revisions_text(r) << "\n";
    }
  }
  print_stored_models(std::cout);
  std::cout << "\nLoaded in this process (max " << cache.capacity() << "):\n";
  if (loaded.empty()) std::cout << "  (none: a CLI process starts empty; a long-running server keeps models loaded)\n";
  for (const auto& m : loaded)
    std::cout << "  " << m.key << "  " << human_bytes(m.bytes) << "  hits " << m.hits << "  last used "
              << utc_time(m.last_used) << "\n";
  return 0;
}

int show_model(const std::string& spec, std::optional<long long> context, bool as_json) {
  const ResolvedModel r = resolve_model(spec);
  Checkpoint ck = load_checkpoint(r.path);
  if (r.stored) apply_stored_defaults(*r.stored, ck);  // Ollama's params layer, as `allm run` uses it
  const auto& cfg = host().config().merged();
  const int64_t ctx = context ? *context : cfg.value("context_length", int64_t{4096});
  const MemoryEstimate mem = estimate_memory(ck, ctx);
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
  json out = {{"spec", spec},
              {"path", r.path.string()},
              {"kind", r.kind},
              {"model_type", ck.model_type},
              {"dtype", ck.dtype},
              {"quantization", {{"mode", ck.quantization.mode}, {"bits", ck.quantization.bits},
                                {"group_size", ck.quantization.group_size}}},
              {"tensors", ck.weights ? ck.weights->names().size() : 0},
              {"weight_bytes", mem.weight_bytes},
              {"context_length", ctx},
              {"kv_cache_bytes", mem.kv_cache_bytes},
              {"generation_defaults", gen},
              {"tokenizer_json", ck.tokenizer_json ? ck.tokenizer_json->string() : ""},
              {"chat_template", ck.chat_template.has_value()}};
  if (!r.repo_id.empty()) out["hf"] = {{"repo", r.repo_id}, {"revision", r.revision}, {"commit", r.commit}};
  if (mem.available_bytes) out["available_bytes"] = *mem.available_bytes;
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "Model:         " << spec << "\nPath:          " << r.path.string() << " (" << r.kind << ")\n";
  if (!r.repo_id.empty()) std::cout << "HF revision:   " << r.revision << " -> " << r.commit << "\n";
  std::cout << "Architecture:  " << ck.model_type << "\nDtype:         " << ck.dtype << "\nQuantization:  "
            << (ck.quantization.mode.empty() ? std::string("none")
                                             : ck.quantization.mode + " " + std::to_string(ck.quantization.bits) +
                                                   "-bit, group " + std::to_string(ck.quantization.group_size))
            << "\nTensors:       " << out["tensors"].get<size_t>() << " (" << human_bytes(mem.weight_bytes) << ")\n"
            << "KV cache:      " << human_bytes(mem.kv_cache_bytes) << " for " << ctx << " tokens\n"
            << "Generation:    " << gen.dump() << "\n"
            << "Chat template: " << (ck.chat_template ? "yes" : "no") << "\n";
  return 0;
}

int run_models(Args& args) {
  const bool as_json = args.flag("json");
  const auto context = args.integer("context");
  const bool fits = args.flag("fits");
  const bool dry_run = args.flag("dry-run");
  const auto memory = args.integer("memory");
  auto pos = args.positionals();
  args.finish();
  const std::string action = pos.empty() ? "list" : pos[0];
  if (action == "list") {
    if (pos.size() > 1) throw InvalidArgumentError("allm models list takes no arguments");
    return list_models(as_json);
  }
  if (action == "show") {
    if (pos.size() != 2) throw InvalidArgumentError("usage: allm models show MODEL [--context N] [--json]");
    return show_model(pos[1], context, as_json);
  }
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

ALLM_CLI_COMMAND(models, "List cached and loaded models, or show one checkpoint",
                 "Usage: allm models [list] [--json]\n"
                 "       allm models show MODEL [--context N] [--json]\n"
                 "       allm models search [TEXT] [--fits] [--context N] [--memory BYTES] [--json]\n"
                 "       allm models rm REPO[@REVISION] [--dry-run] [--json]\n\n"
                 "list  Shows the local Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub,\n"
                 "      else ~/.cache/huggingface/hub): each repo with its revisions\n"
                 "      (ref@commit), size on disk and last use (newest access/modification\n"
                 "      time of its files), then the models loaded in this process. A CLI\n"
                 "      process starts empty, so that list is empty here; a long-running\n"
                 "      server keeps up to max_cached_models models loaded.\n"
                 "show  Resolves MODEL (a directory, a .safetensors/.gguf file, or a HF repo\n"
                 "      id org/name[@revision] in the local cache), loads it and prints its\n"
                 "      architecture, dtype, quantization, tensor count and bytes, the KV\n"
                 "      cache for N tokens (default: context_length from the config) and\n"
                 "      the generation defaults from generation_config.json.\n"
                 "      MODEL may also be ollama-local:NAME or lmstudio:NAME.\n"
                 "search  The curated catalog (config/models-catalog.json): models whose\n"
                 "      name, family, description, licence or capability holds TEXT, with\n"
                 "      the memory each variant needs (weights + KV cache at --context,\n"
                 "      default min(4096, its context)) against free memory (or --memory),\n"
                 "      and the variant that fits. --fits shows only models that fit.\n"
                 "rm    Removes a repo from the HF cache, or one revision of it: its\n"
                 "      snapshot, refs, and the blobs no other revision links to.\n"
                 "list also shows Ollama's store ($OLLAMA_MODELS, else ~/.ollama/models)\n"
                 "and LM Studio's models folder ($LMSTUDIO_MODELS, else ~/.lmstudio/models).\n\n"
                 "  --context N   context length for the KV-cache estimate (show)\n"
                 "  --json        print JSON instead of text\n\n"
                 "Models are downloaded with `allm pull` (or huggingface-cli), never by this command.",
                 run_models)

}  // namespace allm::cli
