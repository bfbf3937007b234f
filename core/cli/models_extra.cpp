// `allm models` beyond the HF cache listing (see models_extra.hpp).
#include "models_extra.hpp"

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>

#include "allm/byte_size.hpp"
#include "allm/error.hpp"
#include "allm/hub/catalog.hpp"
#include "allm/hub/pull.hpp"
#include "allm/local_stores.hpp"
#include "allm/model_loader.hpp"
#include "pull_progress.hpp"

namespace allm::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

json stored_json(const StoredModel& m) {
  return {{"name", m.name},     {"format", m.format}, {"quantization", m.quantization},
          {"size", m.size},     {"path", m.path.string()}, {"location", m.where.string()}};
}

void print_table(std::ostream& out, const std::string& title, const fs::path& dir,
                 const std::vector<StoredModel>& models, const std::string& prefix) {
  out << "\n" << title << ": " << dir.string() << "\n";
  if (models.empty()) {
    out << "  (no models)\n";
    return;
  }
  size_t w = 4;
  for (const auto& m : models) w = std::max(w, prefix.size() + m.name.size());
  out << "  " << std::left << std::setw(static_cast<int>(w)) << "NAME" << "  " << std::setw(11) << "FORMAT"
      << "  " << std::setw(8) << "QUANT" << "  " << std::setw(10) << "SIZE" << "  PATH\n";
  for (const auto& m : models)
    out << "  " << std::setw(static_cast<int>(w)) << prefix + m.name << "  " << std::setw(11) << m.format << "  "
        << std::setw(8) << (m.quantization.empty() ? "-" : m.quantization) << "  " << std::setw(10)
        << byte_size_text(m.size) << "  " << m.path.string() << "\n";
}

}  // namespace

std::pair<std::string, std::string> describe_checkpoint(const fs::path& path) {
  std::error_code ec;
  fs::path gguf;
  if (fs::is_regular_file(path, ec)) {
    gguf = path;
  } else if (!fs::is_regular_file(path / "config.json", ec)) {
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.path().extension() == ".gguf") gguf = e.path();
  }
  if (!gguf.empty()) return {"gguf", gguf_quantization(gguf)};
  try {
    std::ifstream in(path / "config.json");
    const json c = json::parse(in);
    for (const char* key : {"quantization", "quantization_config"})
      if (c.contains(key) && c[key].is_object() && c[key].contains("bits") && c[key].contains("group_size"))
        return {"mlx", std::to_string(c[key].value("bits", 0)) + "-bit"};
    return {"safetensors", c.value("torch_dtype", c.value("dtype", ""))};
  } catch (const json::exception&) {
    return {"safetensors", ""};
  }
}

json stored_models_json() {
  json out = {{"ollama", {{"path", ollama_models_dir().string()}, {"models", json::array()}}},
              {"lmstudio", {{"path", lmstudio_models_dir().string()}, {"models", json::array()}}}};
  for (const auto& m : scan_ollama_store()) out["ollama"]["models"].push_back(stored_json(m));
  for (const auto& m : scan_lmstudio_store()) out["lmstudio"]["models"].push_back(stored_json(m));
  return out;
}

void print_stored_models(std::ostream& out) {
  print_table(out, "Ollama store (run as ollama-local:NAME)", ollama_models_dir(), scan_ollama_store(), "");
  print_table(out, "LM Studio models (run as lmstudio:NAME)", lmstudio_models_dir(), scan_lmstudio_store(), "");
}

int search_catalog(const std::string& text, bool fits_only, int64_t context, std::optional<uint64_t> memory,
                   bool as_json) {
  std::string source = "--memory";
  if (!memory) memory = available_memory_bytes(&source);
  const std::string needle = lower(text);
  json results = json::array();
  for (const auto& e : hub::catalog()) {
    std::string hay = lower(e.name + " " + e.family + " " + e.description + " " + e.license);
    for (const auto& c : e.capabilities) hay.append(" ").append(c);
    for (const auto& v : e.variants) hay.append(" ").append(lower(v.repo));
    if (!needle.empty() && hay.find(needle) == std::string::npos) continue;
    const int64_t ctx = context > 0 ? std::min(context, e.context) : std::min<int64_t>(e.context, 4096);
    const uint64_t kv = hub::catalog_kv_bytes(e, ctx);
    json variants = json::array();
    const hub::CatalogVariant* best = nullptr;
    uint64_t best_bytes = 0;
    for (const auto& v : e.variants) {
      const uint64_t w = hub::variant_weight_bytes(e, v);
      const bool fits = memory && w + kv <= *memory;
      variants.push_back({{"format", v.format}, {"quantization", v.quant}, {"repo", v.repo}, {"file", v.file},
                          {"weight_bytes", w}, {"required_bytes", w + kv}, {"fits", fits}});
      // The most precise variant allm runs best on a CPU that fits: GGUF, then safetensors.
      if (fits && v.format != "mlx" && (!best || w > best_bytes)) best = &v, best_bytes = w;
    }
    if (fits_only && !best) continue;
    json r = {{"name", e.name}, {"family", e.family}, {"description", e.description}, {"params_b", e.params_b},
              {"context_length", e.context}, {"license", e.license}, {"capabilities", e.capabilities},
              {"gated", e.gated}, {"estimate_context", ctx}, {"kv_cache_bytes", kv}, {"variants", variants}};
    if (best)
      r["fits"] = {{"format", best->format}, {"quantization", best->quant}, {"repo", best->repo},
                   {"pull", "allm pull " + e.name + " --format " + best->format + " --quant " + best->quant}};
    results.push_back(r);
  }
  if (as_json) {
    json out = {{"query", text}, {"results", results}};
    if (memory) out["available_bytes"] = *memory, out["available_source"] = source;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "Free memory: " << (memory ? byte_size_text(*memory) + " (" + source + ")" : std::string("unknown"))
            << "\n";
  if (results.empty()) {
    std::cout << "  no catalog model matches '" << text << "'" << (fits_only ? " and fits" : "") << "\n";
    return 0;
  }
  for (const auto& r : results) {
    std::string caps;
    for (const auto& c : r["capabilities"]) {
      if (!caps.empty()) caps.append(",");
      caps.append(c.get<std::string>());
    }
    std::ostringstream params;
    params << std::setprecision(3) << r["params_b"].get<double>() << "B";
    std::cout << "\n" << r["name"].get<std::string>() << "  " << params.str() << "  context "
              << r["context_length"].get<int64_t>() << "  " << r["license"].get<std::string>()
              << (caps.empty() ? "" : "  [" + caps + "]") << (r["gated"].get<bool>() ? "  (gated)" : "") << "\n  "
              << r["description"].get<std::string>() << "\n";
    for (const auto& v : r["variants"])
      std::cout << "    " << std::left << std::setw(12) << v["format"].get<std::string>() << std::setw(8)
                << v["quantization"].get<std::string>() << std::setw(11)
                << byte_size_text(v["weight_bytes"].get<uint64_t>()) << "+ KV "
                << byte_size_text(r["kv_cache_bytes"].get<uint64_t>()) << " @ " << r["estimate_context"].get<int64_t>()
                << "  " << (memory ? (v["fits"].get<bool>() ? "fits" : "too big") : "") << "\n";
    if (r.contains("fits"))
      std::cout << "  fits: " << r["fits"]["format"].get<std::string>() << " "
                << r["fits"]["quantization"].get<std::string>() << "  ->  " << r["fits"]["pull"].get<std::string>()
                << "\n";
    else if (memory)
      std::cout << "  fits: none of its variants in " << byte_size_text(*memory) << "\n";
  }
  return 0;
}

int remove_cached(const std::string& spec, bool dry_run, bool as_json) {
  std::string repo_id = spec, revision;
  if (const size_t at = spec.find('@'); at != std::string::npos) repo_id = spec.substr(0, at), revision = spec.substr(at + 1);
  const fs::path cache = hf_hub_cache_dir();
  const auto repos = scan_hf_cache(cache);
  const auto repo = std::find_if(repos.begin(), repos.end(), [&](const auto& r) { return r.repo_id == repo_id; });
  if (repo == repos.end()) {
    if (find_ollama_model(spec) || spec.rfind("ollama-local:", 0) == 0)
      throw InvalidArgumentError("'" + spec + "' is in Ollama's store; remove it with `ollama rm`, allm does not "
                                 "change other tools' stores");
    throw ModelLoadError("'" + repo_id + "' is not in the Hugging Face cache " + cache.string());
  }
  std::error_code ec;
  std::vector<const HfCachedRevision*> doomed;
  for (const auto& rev : repo->revisions) {
    const bool by_ref = std::find(rev.refs.begin(), rev.refs.end(), revision) != rev.refs.end();
    if (revision.empty() || by_ref || (revision.size() >= 7 && rev.commit.rfind(revision, 0) == 0))
      doomed.push_back(&rev);
  }
  if (doomed.empty()) throw ModelLoadError("revision '" + revision + "' of " + repo_id + " is not cached");

  // Blobs still linked from a revision that stays are kept (refcounting).
  std::set<std::string> kept_blobs, doomed_blobs;
  auto blobs_of = [&](const fs::path& snapshot, std::set<std::string>& into) {
    for (fs::recursive_directory_iterator it(snapshot, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_symlink(ec)) into.insert(fs::read_symlink(it->path(), ec).filename().string());
  };
  for (const auto& rev : repo->revisions) {
    const bool gone = std::find(doomed.begin(), doomed.end(), &rev) != doomed.end();
    blobs_of(rev.snapshot, gone ? doomed_blobs : kept_blobs);
  }
  const bool whole_repo = doomed.size() == repo->revisions.size();
  uint64_t freed = 0;
  std::vector<std::string> removed;
  if (whole_repo) {
    freed = repo->size_on_disk;
    removed.push_back(repo->path.string());
    if (!dry_run) fs::remove_all(repo->path, ec);
    if (!dry_run) fs::remove_all(cache / ".locks" / hub::repo_folder_name(repo_id), ec);
  } else {
    for (const auto& b : doomed_blobs) {
      if (kept_blobs.count(b)) continue;
      const fs::path blob = repo->path / "blobs" / b;
      freed += fs::file_size(blob, ec);
      removed.push_back(blob.string());
      if (!dry_run) fs::remove(blob, ec);
    }
    for (const auto* rev : doomed) {
      removed.push_back(rev->snapshot.string());
      if (!dry_run) fs::remove_all(rev->snapshot, ec);
      for (const auto& ref : rev->refs) {
        removed.push_back((repo->path / "refs" / ref).string());
        if (!dry_run) fs::remove(repo->path / "refs" / ref, ec);
      }
    }
  }
  if (ec && !dry_run) throw IoError("removing " + repo_id + ": " + ec.message());
  if (as_json) {
    std::cout << json{{"repo", repo_id}, {"dry_run", dry_run}, {"freed_bytes", freed}, {"removed", removed}}.dump(2)
              << "\n";
    return 0;
  }
  std::cout << (dry_run ? "would remove" : "removed") << " " << spec << ": " << byte_size_text(freed)
            << (dry_run ? " would be freed" : " freed") << "\n";
  for (const auto& r : removed) std::cout << "  " << r << "\n";
  return 0;
}

}  // namespace allm::cli
