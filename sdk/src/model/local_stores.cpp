// Ollama's and LM Studio's model stores, read in place (see local_stores.hpp).
//
// Ollama: <dir>/manifests/<registry>/<namespace>/<model>/<tag> is an OCI
// manifest whose layers name blobs <dir>/blobs/sha256-<hex> by media type:
// application/vnd.ollama.image.model (the GGUF), .template, .params (JSON),
// .system; its config blob (JSON) carries file_type ("Q4_K_M") and model_format.
#include "allm/local_stores.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/json_depth.hpp"
#include "allm/log.hpp"

namespace allm {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::optional<std::string> env_value(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

fs::path home() { return env_value("HOME").value_or("."); }

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A JSON file of the store, refused when nested deeper than kMaxJsonDepth.
json read_json(const fs::path& p) {
  std::string text = read_text(p);
  if (std::string depth = json_depth_error(text); !depth.empty()) throw ModelLoadError(p.string() + ": " + depth);
  return json::parse(text);
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

uint64_t size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto s = fs::file_size(p, ec);
  return ec ? 0 : s;
}

// llama.cpp's llama_ftype numbers (general.file_type).
std::string ftype_name(int64_t t) {
  switch (t) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K_S";
    case 12: return "Q3_K_M";
    case 13: return "Q3_K_L";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 32: return "BF16";
    default: return "";
  }
}

fs::path blob_path(const fs::path& dir, const std::string& digest) {
  std::string name = digest;
  std::replace(name.begin(), name.end(), ':', '-');
  return dir / "blobs" / name;
}

StoredModel read_manifest(const fs::path& dir, const fs::path& manifest, const std::string& display) {
  json m;
  try {
    m = read_json(manifest);
  } catch (const json::exception& e) {
    throw ModelLoadError(manifest.string() + ": not a JSON manifest (" + e.what() + ")");
  }
  if (!m.contains("layers") || !m["layers"].is_array())
    throw ModelLoadError(manifest.string() + ": manifest has no \"layers\" array");
  StoredModel s;
  s.store = "ollama";
  s.name = display;
  s.where = manifest;
  s.format = "gguf";
  for (const auto& layer : m["layers"]) {
    const std::string type = layer.value("mediaType", "");
    const std::string digest = layer.value("digest", "");
    if (digest.rfind("sha256:", 0) != 0) continue;
    const fs::path blob = blob_path(dir, digest);
    if (type == "application/vnd.ollama.image.model") {
      s.path = blob;
      s.size = layer.value("size", uint64_t{0});
    } else if (type == "application/vnd.ollama.image.template") {
      s.ollama_template = read_text(blob);
    } else if (type == "application/vnd.ollama.image.system") {
      s.ollama_system = read_text(blob);
    } else if (type == "application/vnd.ollama.image.params") {
      try {
        s.ollama_params = read_json(blob);
      } catch (const json::exception& e) {
        throw ModelLoadError(blob.string() + " (params of " + display + "): not JSON (" + e.what() + ")");
      }
    }
  }
  if (s.path.empty()) throw ModelLoadError(manifest.string() + ": no model layer (application/vnd.ollama.image.model)");
  std::error_code ec;
  if (!fs::is_regular_file(s.path, ec))
    throw ModelLoadError(manifest.string() + ": its model blob " + s.path.string() + " is missing");
  if (!s.size) s.size = size_or_zero(s.path);
  if (m.contains("config") && m["config"].is_object()) {
    const fs::path cfg = blob_path(dir, m["config"].value("digest", ""));
    try {
      const json c = json::parse(read_text(cfg));
      s.quantization = c.value("file_type", "");
      if (c.value("model_format", "gguf") != "gguf") s.format = c.value("model_format", "gguf");
    } catch (const json::exception&) {
    }
  }
  if (s.quantization.empty()) s.quantization = gguf_quantization(s.path);
  return s;
}

}  // namespace

fs::path ollama_models_dir() {
  if (auto v = env_value("OLLAMA_MODELS")) return *v;
  return home() / ".ollama" / "models";
}

fs::path lmstudio_models_dir() {
  if (auto v = env_value("LMSTUDIO_MODELS")) return *v;
  std::error_code ec;
  if (fs::is_directory(home() / ".lmstudio" / "models", ec)) return home() / ".lmstudio" / "models";
  return home() / ".cache" / "lm-studio" / "models";
}

std::string OllamaName::display() const {
  std::string out;
  if (registry != "registry.ollama.ai") out = registry + "/" + nspace + "/";
  else if (nspace != "library") out = nspace + "/";
  return out + model + ":" + tag;
}

std::optional<OllamaName> parse_ollama_name(const std::string& name) {
  OllamaName n;
  std::string rest = name;
  if (const size_t colon = rest.rfind(':'); colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
    n.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t slash = rest.find('/', start);
    parts.push_back(rest.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() > 3) return std::nullopt;
  n.model = parts.back();
  if (parts.size() >= 2) n.nspace = parts[parts.size() - 2];
  if (parts.size() == 3) n.registry = parts[0];
  auto ok = [](const std::string& s) {
    return !s.empty() && s.find("..") == std::string::npos &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
  };
  if (!ok(n.model) || !ok(n.tag) || !ok(n.nspace) || !ok(n.registry)) return std::nullopt;
  return n;
}

std::optional<StoredModel> find_ollama_model(const std::string& name, const fs::path& dir) {
  const auto n = parse_ollama_name(name);
  if (!n) return std::nullopt;
  const fs::path manifest = dir / "manifests" / n->registry / n->nspace / n->model / n->tag;
  std::error_code ec;
  if (!fs::is_regular_file(manifest, ec)) return std::nullopt;
  return read_manifest(dir, manifest, n->display());
}

std::vector<StoredModel> scan_ollama_store(const fs::path& dir) {
  std::vector<StoredModel> out;
  std::error_code ec;
  const fs::path root = dir / "manifests";
  if (!fs::is_directory(root, ec)) return out;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it.depth() != 3) continue;
    const fs::path rel = it->path().lexically_relative(root);
    std::vector<std::string> p;
    for (const auto& part : rel) p.push_back(part.string());
    OllamaName n;
    n.registry = p[0], n.nspace = p[1], n.model = p[2], n.tag = p[3];
    try {
      out.push_back(read_manifest(dir, it->path(), n.display()));
    } catch (const Error& e) {
      log().warn("skipping an Ollama model: {}", e.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::vector<StoredModel> scan_lmstudio_store(const fs::path& dir) {
  // <dir>/<publisher>/<repo>/: *.gguf files (each a model), or a checkpoint
  // folder (config.json + safetensors; MLX when its config says quantization).
  std::vector<StoredModel> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& pub : fs::directory_iterator(dir, ec)) {
    if (!pub.is_directory(ec)) continue;
    for (const auto& repo : fs::directory_iterator(pub.path(), ec)) {
      if (!repo.is_directory(ec)) continue;
      const std::string base = pub.path().filename().string() + "/" + repo.path().filename().string();
      uint64_t st_bytes = 0;
      for (const auto& f : fs::directory_iterator(repo.path(), ec)) {
        const std::string ext = f.path().extension().string();
        if (ext == ".gguf" && f.path().filename().string().rfind("mmproj", 0) != 0) {
          StoredModel s;
          s.store = "lmstudio";
          s.name = base + "/" + f.path().filename().string();
          s.path = f.path();
          s.where = repo.path();
          s.format = "gguf";
          s.size = size_or_zero(f.path());
          s.quantization = gguf_quantization(f.path());
          out.push_back(std::move(s));
        } else if (ext == ".safetensors") {
          st_bytes += size_or_zero(f.path());
        }
      }
      if (st_bytes && fs::is_regular_file(repo.path() / "config.json", ec)) {
        StoredModel s;
        s.store = "lmstudio";
        s.name = base;
        s.path = repo.path();
        s.where = repo.path();
        s.size = st_bytes;
        s.format = "safetensors";
        try {
          const json c = json::parse(read_text(repo.path() / "config.json"));
          const json* q = c.contains("quantization") ? &c["quantization"] : nullptr;
          if (q && q->is_object() && q->contains("bits")) {
            s.format = "mlx";
            s.quantization = std::to_string(q->value("bits", 0)) + "-bit";
          } else {
            s.quantization = c.value("torch_dtype", "");
          }
        } catch (const json::exception&) {
        }
        out.push_back(std::move(s));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

void apply_stored_defaults(const StoredModel& model, Checkpoint& checkpoint) {
  const json& p = model.ollama_params;
  if (!p.is_object()) return;
  auto number = [&](const char* key) -> std::optional<double> {
    if (p.contains(key) && p[key].is_number()) return p[key].get<double>();
    return std::nullopt;
  };
  auto& g = checkpoint.generation;
  if (auto v = number("temperature")) g.temperature = *v;
  if (auto v = number("top_p")) g.top_p = *v;
  if (auto v = number("min_p")) g.min_p = *v;
  if (auto v = number("repeat_penalty")) g.repetition_penalty = *v;
  if (auto v = number("top_k")) g.top_k = static_cast<int>(*v);
}

std::string gguf_quantization(const fs::path& gguf) {
  // The name first (cheap, and what users pick by): ...-Q4_K_M.gguf, .Q8_0., -F16.
  const std::string name = upper(gguf.filename().string());
  static const char* known[] = {"IQ4_XS", "IQ4_NL", "IQ3_XXS", "IQ3_M", "IQ2_XXS", "IQ2_XS", "Q2_K", "Q3_K_S",
                                "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "Q4_0",
                                "Q4_1", "Q5_0", "Q5_1", "Q8_0", "BF16", "F16", "F32"};
  for (const char* k : known) {
    const std::string key = k;
    const size_t at = name.find(key);
    if (at != std::string::npos && (at == 0 || !std::isalnum(static_cast<unsigned char>(name[at - 1]))) &&
        (at + key.size() == name.size() || !std::isalnum(static_cast<unsigned char>(name[at + key.size()]))))
      return key;
  }
  try {
    const auto f = gguf::File::open(gguf);
    if (auto t = f->get_int("general.file_type")) return ftype_name(*t);
  } catch (const Error&) {
  }
  return "";
}

}  // namespace allm
