// What a user typed -> what to load: a path, or a repo id in the HF cache.
#include <cstdlib>
#include <fstream>
#include <regex>

#include "allm/error.hpp"
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

}  // namespace

ResolvedModel resolve_model(const std::string& spec) {
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

  static const std::regex kRepoId(R"(^([A-Za-z0-9][A-Za-z0-9._-]*/)?([A-Za-z0-9][A-Za-z0-9._-]*)(@([A-Za-z0-9._/-]+))?$)");
  std::smatch m;
  if (std::regex_match(spec, m, kRepoId)) {
    std::string org = m[1].str();
    if (!org.empty()) org.pop_back();
    const std::string name = m[2].str();
    ResolvedModel r;
    r.kind = "hf-cache";
    r.repo_id = org.empty() ? name : org + "/" + name;
    r.revision = m[4].matched ? m[4].str() : "main";
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

  std::string msg = "model '" + spec + "' not found; looked in:";
  for (const auto& l : looked) msg += "\n  - " + l;
  throw ModelLoadError(msg);
}

std::shared_ptr<const Checkpoint> load_model_cached(const std::string& spec, const LoadOptions& options,
                                                    ModelCache& cache) {
  const ResolvedModel r = resolve_model(spec);
  return cache.get_or_load<const Checkpoint>(model_cache_key(r.path.string()), [&] {
    return std::make_shared<const Checkpoint>(load_checkpoint(r.path, options));
  });
}

}  // namespace allm
