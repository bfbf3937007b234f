// Which files of a repo `allm pull` fetches, and the globs of --include/--exclude.
#include <algorithm>

#include "allm/error.hpp"
#include "allm/hub/pull.hpp"

namespace allm::hub {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// fnmatch without FNM_PATHNAME (Python's fnmatch, as huggingface_hub uses it).
bool match_at(const char* p, const char* s) {
  for (; *p; ++p, ++s) {
    if (*p == '*') {
      while (p[1] == '*') ++p;
      if (!p[1]) return true;
      for (const char* t = s; *t; ++t)
        if (match_at(p + 1, t)) return true;
      return match_at(p + 1, s + std::char_traits<char>::length(s));
    }
    if (!*s) return false;
    if (*p == '?') continue;
    if (*p == '[') {
      const char* q = p + 1;
      const bool negate = *q == '!';
      if (negate) ++q;
      bool hit = false;
      const char* start = q;
      for (; *q && (*q != ']' || q == start); ++q) {
        if (q[1] == '-' && q[2] && q[2] != ']') {
          if (*s >= *q && *s <= q[2]) hit = true;
          q += 2;
        } else if (*q == *s) {
          hit = true;
        }
      }
      if (!*q) {  // no closing ']': a literal '['
        if (*s != '[') return false;
        continue;
      }
      if (hit == negate) return false;
      p = q;
      continue;
    }
    if (*p != *s) return false;
  }
  return !*s;
}

bool any_match(const std::vector<std::string>& patterns, const std::string& path) {
  for (const auto& p : patterns)
    if (glob_match(p, path)) return true;
  return false;
}

// Small files a model needs besides its weights (top level only).
bool is_model_metadata(const std::string& f) {
  if (f.find('/') != std::string::npos) return false;
  return ends_with(f, ".json") || f == "tokenizer.model" || ends_with(f, ".tiktoken") || f == "merges.txt" ||
         f == "vocab.txt" || ends_with(f, ".jinja") || f == "added_tokens.json";
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& path) {
  if (pattern.empty()) return false;
  if (pattern.back() == '/') return match_at((pattern + "*").c_str(), path.c_str());
  return match_at(pattern.c_str(), path.c_str());
}

Selection select_files(const std::vector<std::string>& repo_files, const std::vector<std::string>& include,
                       const std::vector<std::string>& exclude) {
  Selection sel;
  std::vector<std::string> chosen;
  for (const auto& f : repo_files)
    if (is_model_metadata(f)) chosen.push_back(f);

  if (!include.empty()) {
    size_t matched = 0;
    for (const auto& f : repo_files)
      if (any_match(include, f)) {
        ++matched;
        if (std::find(chosen.begin(), chosen.end(), f) == chosen.end()) chosen.push_back(f);
      }
    if (matched == 0) {
      std::string pats;
      for (const auto& p : include) pats += (pats.empty() ? "'" : ", '") + p + "'";
      throw InvalidArgumentError("--include " + pats + " matches no file of the repo");
    }
  } else {
    // Weights of one format, top level only (skips original/*.pth, onnx/, ...).
    std::vector<std::string> safetensors, gguf;
    for (const auto& f : repo_files) {
      if (f.find('/') != std::string::npos) continue;
      if (ends_with(f, ".safetensors")) safetensors.push_back(f);
      if (ends_with(lower(f), ".gguf")) gguf.push_back(f);
    }
    if (!safetensors.empty()) {
      chosen.insert(chosen.end(), safetensors.begin(), safetensors.end());
    } else if (gguf.size() == 1) {
      chosen.push_back(gguf[0]);
    } else if (!gguf.empty()) {
      std::vector<std::string> q4km;
      for (const auto& g : gguf)
        if (lower(g).find("q4_k_m") != std::string::npos) q4km.push_back(g);
      std::string names;
      for (const auto& g : gguf) names += "\n  " + g;
      if (q4km.size() != 1)
        throw InvalidArgumentError("the repo holds several GGUF files; pick one with --include (e.g. --include '*" +
                                   gguf[0].substr(gguf[0].rfind('-') == std::string::npos ? 0 : gguf[0].rfind('-') + 1) +
                                   "'):" + names);
      chosen.push_back(q4km[0]);
      sel.notes.push_back("several GGUF files; took " + q4km[0] + " (pick another with --include '*Q8_0.gguf' ...)");
    } else {
      std::string names;
      for (const auto& f : repo_files) names += "\n  " + f;
      throw UnsupportedError("the repo has no weights allm reads (top-level .safetensors or .gguf); its files:" +
                             names + "\n(--include GLOB fetches files anyway)");
    }
  }

  for (const auto& f : chosen)
    if (!any_match(exclude, f)) sel.files.push_back(f);
  return sel;
}

std::pair<std::string, std::string> parse_repo_spec(const std::string& spec) {
  std::string repo = spec, revision;
  if (const size_t at = spec.find('@'); at != std::string::npos) {
    repo = spec.substr(0, at);
    revision = spec.substr(at + 1);
    if (revision.empty()) throw InvalidArgumentError("'" + spec + "': empty revision after '@'");
  }
  auto valid_part = [](const std::string& s) {
    if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
  };
  const size_t slash = repo.find('/');
  if (slash == std::string::npos || !valid_part(repo.substr(0, slash)) || !valid_part(repo.substr(slash + 1)))
    throw InvalidArgumentError("'" + spec + "' is not a Hugging Face repo id (org/name[@revision]) nor a catalog "
                               "name (allm models search)");
  for (char c : revision)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' && c != '/')
      throw InvalidArgumentError("'" + spec + "': revision '" + revision + "' holds a character a revision cannot");
  return {repo, revision.empty() ? "main" : revision};
}

std::string repo_folder_name(const std::string& repo_id) {
  std::string out = "models--";
  for (char c : repo_id) {
    if (c == '/')
      out += "--";
    else
      out += c;
  }
  return out;
}

}  // namespace allm::hub
