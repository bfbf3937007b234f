// What a user typed -> what to load: a path, or a repo id in the HF cache.
#include <cstdlib>
#include <fstream>
#include <optional>

#include "allm/error.hpp"
#include "allm/log.hpp"
#include "allm/model_loader.hpp"

namespace allm {

namespace fs = std::filesystem;

namespace {

fs::path expand_home(const std::string& spec) {
  if (spec == "~" || spec.starts_with("~/")) {
    if (const char* home = std::getenv("HOME")) return fs::path(home) / spec.substr(std::min<size_t>(2, spec.size()));
  }
  return spec;
}

std::string read_ref(const fs::path& file) {
  std::ifstream in(file);
  std::string commit;
  std::getline(in, commit);
  while (!commit.empty() && (commit.back() == '\r' || commit.back() == ' ')) commit.pop_back();
  return commit;
}

bool is_hex(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A Hugging Face repo id "[org/]name[@revision]": org and name start with a
// letter or digit and hold letters, digits and "._-"; a revision may also hold '/'.
struct RepoId {
  std::string org, name, revision;
};

bool id_chars(const std::string& s, bool slash) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '.' && c != '_' && c != '-' && !(slash && c == '/')) return false;
  }
  return true;
}

bool id_part(const std::string& s) {
  const char c = s.empty() ? '\0' : s[0];
  const bool starts_alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  return starts_alnum && id_chars(s, false);
}

std::optional<RepoId> parse_repo_id(const std::string& spec) {
  RepoId id;
  std::string repo = spec;
  if (const size_t at = spec.find('@'); at != std::string::npos) {
    repo = spec.substr(0, at);
    id.revision = spec.substr(at + 1);
    if (!id_chars(id.revision, true)) return std::nullopt;
  }
  if (const size_t slash = repo.find('/'); slash != std::string::npos) {
    id.org = repo.substr(0, slash);
    id.name = repo.substr(slash + 1);
    if (!id_part(id.org)) return std::nullopt;
  } else {
    id.name = repo;
  }
  if (!id_part(id.name)) return std::nullopt;
  return id;
}

// A snapshot of a GGUF-only repo resolves to its single .gguf file.
ResolvedModel snapshot_target(ResolvedModel r) {
  if (fs::is_regular_file(r.path / "config.json")) return r;
  std::vector<fs::path> ggufs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(r.path, ec))
    if (e.path().extension() == ".gguf") ggufs.push_back(e.path());
  if (ggufs.size() == 1) {
    r.path = ggufs[0];
  } else if (ggufs.size() > 1) {
    std::sort(ggufs.begin(), ggufs.end());
    std::string names;
    for (const auto& g : ggufs) names += "\n  " + g.string();
    throw ModelLoadError(r.repo_id + "@" + r.revision + ": the snapshot holds several .gguf files; pass one of them "
                         "as a path:" + names);
  }
  return r;
}

ResolvedModel from_store(const StoredModel& m) {
  ResolvedModel r;
  r.path = m.path;
  r.kind = m.store;
  r.stored = m;
  return r;
}

std::string store_listing(const std::vector<StoredModel>& models) {
  std::string out;
  for (const auto& m : models) out += (out.empty() ? "" : ", ") + m.name;
  return out.empty() ? "none" : out;
}

// LM Studio names are publisher/repo/file.gguf (or publisher/repo for a
// checkpoint folder); "repo", "publisher/repo" and "file.gguf" also match.
bool lmstudio_matches(const StoredModel& m, const std::string& want) {
  if (m.name == want) return true;
  const size_t a = m.name.find('/');
  const size_t b = m.name.find('/', a + 1);
  const std::string base = m.name.substr(0, b);
  const std::string repo = m.name.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  const std::string file = b == std::string::npos ? "" : m.name.substr(b + 1);
  return base == want || repo == want || file == want;
}

// "ollama-local:" and "lmstudio:" prefixed specs.
std::optional<ResolvedModel> resolve_prefixed_store(const std::string& spec) {
  if (spec.rfind("ollama-local:", 0) == 0) {
    const std::string name = spec.substr(13);
    if (auto m = find_ollama_model(name)) return from_store(*m);
    throw ModelLoadError("'" + name + "' is not in Ollama's store " + ollama_models_dir().string() +
                         " (set OLLAMA_MODELS to use another); it holds: " + store_listing(scan_ollama_store()));
  }
  if (spec.rfind("lmstudio:", 0) == 0) {
    const std::string name = spec.substr(9);
    const auto all = scan_lmstudio_store();
    std::vector<StoredModel> hits;
    for (const auto& m : all)
      if (lmstudio_matches(m, name)) hits.push_back(m);
    if (hits.size() == 1) return from_store(hits[0]);
    if (hits.empty())
      throw ModelLoadError("'" + name + "' is not in LM Studio's models folder " + lmstudio_models_dir().string() +
                           " (set LMSTUDIO_MODELS to use another); it holds: " + store_listing(all));
    throw ModelLoadError("'" + name + "' matches several LM Studio models: " + store_listing(hits) +
                         "; name one with lmstudio:PUBLISHER/REPO/FILE");
  }
  return std::nullopt;
}

// resolve_model's search (its order is in model_loader.hpp).
ResolvedModel find_model(const std::string& spec) {
  if (spec.empty()) throw ModelLoadError("no model given (a directory, a .gguf/.safetensors file or a HF repo id)");
  std::vector<std::string> looked;
  std::error_code ec;

  const fs::path path = expand_home(spec);
  if (fs::exists(path, ec)) {
    ResolvedModel r;
    r.path = fs::absolute(path, ec).lexically_normal();
    r.kind = fs::is_directory(path, ec) ? "directory" : "file";
    return r;
  }
  looked.push_back("path " + fs::absolute(path, ec).lexically_normal().string() + " (does not exist)");
  if (auto r = resolve_prefixed_store(spec)) return *r;

  if (const auto id = parse_repo_id(spec)) {
    const std::string& org = id->org;
    const std::string& name = id->name;
    ResolvedModel r;
    r.kind = "hf-cache";
    r.repo_id = org.empty() ? name : org + "/" + name;
    r.revision = id->revision.empty() ? "main" : id->revision;
    const fs::path cache = hf_hub_cache_dir();
    const fs::path repo = cache / ("models--" + (org.empty() ? name : org + "--" + name));
    if (!fs::is_directory(repo, ec)) {
      looked.push_back("Hugging Face cache " + repo.string() + " (not downloaded)");
    } else {
      const fs::path ref = repo / "refs" / r.revision;
      if (fs::is_regular_file(ref, ec)) r.commit = read_ref(ref);
      if (r.commit.empty() && fs::is_directory(repo / "snapshots" / r.revision, ec)) r.commit = r.revision;
      if (r.commit.empty() && is_hex(r.revision) && r.revision.size() >= 7) {
        // A unique prefix of a commit hash.
        std::vector<std::string> hits;
        for (const auto& s : fs::directory_iterator(repo / "snapshots", ec))
          if (s.path().filename().string().starts_with(r.revision)) hits.push_back(s.path().filename().string());
        if (hits.size() == 1) r.commit = hits[0];
      }
      if (!r.commit.empty() && fs::is_directory(repo / "snapshots" / r.commit, ec)) {
        r.path = repo / "snapshots" / r.commit;
        return snapshot_target(std::move(r));
      }
      std::string have;
      for (const auto& rev : scan_hf_cache(cache))
        if (rev.repo_id == r.repo_id)
          for (const auto& c : rev.revisions) {
            std::string refs;
            for (const auto& n : c.refs) refs += (refs.empty() ? "" : ",") + n;
            have += (have.empty() ? "" : ", ") + c.commit.substr(0, 12) + (refs.empty() ? "" : " (" + refs + ")");
          }
      looked.push_back("Hugging Face cache " + repo.string() + " (revision '" + r.revision +
                       "' not cached; cached revisions: " + (have.empty() ? std::string("none") : have) + ")");
    }
  } else {
    looked.push_back("Hugging Face cache (not a repo id of the form org/name[@revision])");
  }

  // A bare name: the model of that name in Ollama's or LM Studio's store, if only one.
  std::vector<StoredModel> hits;
  if (auto m = find_ollama_model(spec)) hits.push_back(*m);
  for (const auto& m : scan_lmstudio_store())
    if (lmstudio_matches(m, spec)) hits.push_back(m);
  if (hits.size() == 1) return from_store(hits[0]);
  if (hits.size() > 1) {
    std::string names;
    for (const auto& m : hits) names += "\n  " + std::string(m.store == "ollama" ? "ollama-local:" : "lmstudio:") + m.name;
    throw ModelLoadError("model '" + spec + "' is ambiguous; it names several stored models:" + names);
  }
  looked.push_back("Ollama store " + ollama_models_dir().string() + " and LM Studio folder " +
                   lmstudio_models_dir().string() + " (no model named '" + spec + "')");

  std::string msg = "model '" + spec + "' not found; looked in:";
  for (const auto& l : looked) msg += "\n  - " + l;
  throw ModelLoadError(msg);
}

}  // namespace

ResolvedModel resolve_model(const std::string& spec) {
  ResolvedModel r = find_model(spec);
  // Logged so that a front end resolving a spec more than once shows (tests count these).
  log().debug("model '{}' resolved to {} ({})", spec, r.path.string(), r.kind);
  return r;
}

nlohmann::json resolved_model_to_json(const ResolvedModel& m) {
  nlohmann::json j = {{"path", m.path.string()}, {"kind", m.kind}, {"repo_id", m.repo_id},
                      {"revision", m.revision}, {"commit", m.commit}, {"stored", nullptr}};
  if (m.stored) {
    const StoredModel& s = *m.stored;
    j["stored"] = {{"store", s.store}, {"name", s.name}, {"path", s.path.string()}, {"where", s.where.string()},
                   {"format", s.format}, {"quantization", s.quantization}, {"size", s.size},
                   {"ollama_template", s.ollama_template}, {"ollama_system", s.ollama_system},
                   {"ollama_params", s.ollama_params}};
  }
  return j;
}

ResolvedModel resolved_model_from_json(const nlohmann::json& j, const std::string& where) {
  auto text = [&](const nlohmann::json& o, const std::string& at, const char* key) {
    auto it = o.find(key);
    if (it == o.end() || !it->is_string())
      throw InvalidArgumentError(at + "." + key + ": expected a string" +
                                 (it == o.end() ? std::string(", missing") : ", got " + it->dump()));
    return it->get<std::string>();
  };
  if (!j.is_object()) throw InvalidArgumentError(where + ": expected an object, got " + j.dump());
  ResolvedModel m;
  m.path = text(j, where, "path");
  m.kind = text(j, where, "kind");
  m.repo_id = text(j, where, "repo_id");
  m.revision = text(j, where, "revision");
  m.commit = text(j, where, "commit");
  if (auto it = j.find("stored"); it != j.end() && !it->is_null()) {
    const std::string at = where + ".stored";
    if (!it->is_object()) throw InvalidArgumentError(at + ": expected an object or null, got " + it->dump());
    StoredModel s;
    s.store = text(*it, at, "store");
    s.name = text(*it, at, "name");
    s.path = text(*it, at, "path");
    s.where = text(*it, at, "where");
    s.format = text(*it, at, "format");
    s.quantization = text(*it, at, "quantization");
    s.ollama_template = text(*it, at, "ollama_template");
    s.ollama_system = text(*it, at, "ollama_system");
    auto size = it->find("size");
    if (size == it->end() || !size->is_number_unsigned())
      throw InvalidArgumentError(at + ".size: expected a byte count");
    s.size = size->get<uint64_t>();
    auto params = it->find("ollama_params");
    if (params == it->end() || !params->is_object())
      throw InvalidArgumentError(at + ".ollama_params: expected an object");
    s.ollama_params = *params;
    m.stored = std::move(s);
  }
  return m;
}

std::shared_ptr<const Checkpoint> load_model_cached(const std::string& spec, const LoadOptions& options,
                                                    ModelCache& cache) {
  const ResolvedModel r = resolve_model(spec);
  return cache.get_or_load<const Checkpoint>(model_cache_key(r.path.string()), [&] {
    return std::make_shared<const Checkpoint>(load_checkpoint(r.path, options));
  });
}

}  // namespace allm
