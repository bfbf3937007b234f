// The local Hugging Face hub cache: locating it, resolving repo ids to
// snapshots, and listing what it holds.
//
// Layout: <cache>/models--<org>--<name>/{blobs/<sha>, refs/<revision>
// (a file holding a commit hash), snapshots/<commit>/<files -> ../../blobs>}.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "allm/error.hpp"
#include "allm/model_loader.hpp"

namespace allm {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// refs/ may nest ("refs/pr/1"): collect every file, name relative to refs/.
std::map<std::string, std::vector<std::string>> refs_by_commit(const fs::path& repo) {
  std::map<std::string, std::vector<std::string>> out;
  std::error_code ec;
  const fs::path refs = repo / "refs";
  for (fs::recursive_directory_iterator it(refs, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::ifstream in(it->path());
    std::string commit;
    std::getline(in, commit);
    out[trim(commit)].push_back(it->path().lexically_relative(refs).generic_string());
  }
  return out;
}

int64_t newest_time(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return std::max<int64_t>(st.st_atim.tv_sec, st.st_mtim.tv_sec);
}

}  // namespace

fs::path hf_hub_cache_dir() {
  if (auto v = env("HF_HUB_CACHE")) return *v;
  if (auto v = env("HUGGINGFACE_HUB_CACHE")) return *v;
  if (auto v = env("HF_HOME")) return fs::path(*v) / "hub";
  if (auto v = env("XDG_CACHE_HOME")) return fs::path(*v) / "huggingface" / "hub";
  if (auto v = env("HOME")) return fs::path(*v) / ".cache" / "huggingface" / "hub";
  return fs::path(".cache") / "huggingface" / "hub";
}

std::vector<HfCachedRepo> scan_hf_cache(const fs::path& cache_dir) {
  std::vector<HfCachedRepo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cache_dir, ec)) {
    const std::string dirname = entry.path().filename().string();
    if (!dirname.starts_with("models--") || !entry.is_directory(ec)) continue;
    HfCachedRepo repo;
    repo.path = entry.path();
    // models--org--name -> org/name (a name without org has one "--").
    std::string id = dirname.substr(8);
    if (auto pos = id.find("--"); pos != std::string::npos) id = id.substr(0, pos) + "/" + id.substr(pos + 2);
    repo.repo_id = id;

    auto refs = refs_by_commit(repo.path);
    std::set<std::string> commits;
    for (const auto& snap : fs::directory_iterator(repo.path / "snapshots", ec)) {
      HfCachedRevision rev;
      rev.commit = snap.path().filename().string();
      rev.snapshot = snap.path();
      if (auto r = refs.find(rev.commit); r != refs.end()) rev.refs = r->second;
      repo.revisions.push_back(std::move(rev));
    }
    std::sort(repo.revisions.begin(), repo.revisions.end(),
              [](const auto& a, const auto& b) { return a.commit < b.commit; });

    // Size: distinct blobs; a cache copied without symlinks has files in
    // snapshots/ instead, counted there.
    for (const auto& root : {repo.path / "blobs", repo.path / "snapshots"}) {
      for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
        repo.last_used = std::max(repo.last_used, newest_time(it->path()));
        if (it->is_symlink(ec) || !it->is_regular_file(ec)) continue;
        repo.size_on_disk += it->file_size(ec);
      }
      ec.clear();
    }
    out.push_back(std::move(repo));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.repo_id < b.repo_id; });
  return out;
}

}  // namespace allm
