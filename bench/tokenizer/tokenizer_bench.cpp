// Tokenizer throughput: allm's tokenizer.json pipeline against HF tokenizers'
// Rust code (its Node binding), one thread each, on the same mixed corpus.
// Prints load time, MB/s of both, the ratio allm/HF, and whether both produced
// identical ids.
//
//   tokenizer_bench [--corpus-mb N] [--chunk-kb K] [NAME...]   (default: 4 MB, 16 KiB, all seven)
//
// It fetches what it needs into the build tree: the tokenizers with
// tests/tokenizer/fetch_tokenizers.sh, and `npm install tokenizers@0.23.2`.
// Without npm it reports allm's numbers only.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corpus.hpp"
#include "hf_factory.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string run_capture(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

bool ensure_hf_binding(const fs::path& dir) {
  if (fs::exists(dir / "node_modules" / "tokenizers" / "package.json")) return true;
  if (std::system("command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1") != 0) return false;
  fs::create_directories(dir);
  std::string cmd = "cd '" + dir.string() +
                    "' && (test -f package.json || npm init -y >/dev/null) && "
                    "npm install --silent --no-audit --no-fund tokenizers@0.23.2 >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0 && fs::exists(dir / "node_modules" / "tokenizers");
}

}  // namespace

int main(int argc, char** argv) {
  size_t corpus_mb = 4, chunk_kb = 16;
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--corpus-mb" && i + 1 < argc)
      corpus_mb = std::stoul(argv[++i]);
    else if (a == "--chunk-kb" && i + 1 < argc)
      chunk_kb = std::stoul(argv[++i]);
    else
      names.push_back(a);
  }
  if (names.empty()) names = {"llama3", "qwen3", "llama3_1", "gptoss", "deepseek_v3", "llama2", "gemma3"};

  const fs::path cache = ALLM_TOKENIZER_CACHE;
  std::string fetch = std::string("sh '") + ALLM_FETCH_SCRIPT + "' '" + cache.string() + "'";
  for (auto& n : names) fetch += " " + n;
  if (std::system(fetch.c_str()) != 0) std::fprintf(stderr, "warning: some tokenizers could not be fetched\n");
  const fs::path hf_dir = fs::path(ALLM_BENCH_CACHE) / "hf";
  bool have_hf = ensure_hf_binding(hf_dir);

  auto chunks = allm::bench::build_corpus(corpus_mb * 1024 * 1024, chunk_kb * 1024);
  size_t bytes = 0;
  for (auto& c : chunks) bytes += c.size();
  const fs::path corpus_file = fs::path(ALLM_BENCH_CACHE) / "corpus.txt";
  {
    fs::create_directories(corpus_file.parent_path());
    std::ofstream out(corpus_file, std::ios::binary);
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (i) out.put('\0');
      out << chunks[i];
    }
  }
  std::printf("corpus: %.2f MB in %zu chunks of <= %zu KiB (prose, C++ code, CJK/Hangul/Cyrillic/Greek/Thai); one thread each side\n",
              bytes / 1e6, chunks.size(), chunk_kb);
  if (!have_hf) std::printf("HF tokenizers (Node binding) unavailable: npm/node missing, showing allm only\n");
  std::printf("%-12s %9s %9s %10s %10s %7s %s\n", "tokenizer", "load allm", "load HF", "allm MB/s", "HF MB/s",
              "ratio", "same ids");

  allm::hf::HfTokenizerFactory factory;
  for (auto& name : names) {
    fs::path file = cache / name / "tokenizer.json";
    if (!fs::exists(file)) {
      std::printf("%-12s (not fetched)\n", name.c_str());
      continue;
    }
    auto t0 = Clock::now();
    auto tok = factory.load(file.parent_path());
    double load_s = seconds_since(t0);
    size_t tokens = 0;
    uint32_t checksum = 0;
    std::vector<std::vector<allm::TokenId>> results;
    results.reserve(chunks.size());
    t0 = Clock::now();
    for (auto& c : chunks) results.push_back(tok->encode(c, false));
    double encode_s = seconds_since(t0);
    for (auto& ids : results) {
      tokens += ids.size();
      for (auto id : ids) checksum = checksum * 31u + static_cast<uint32_t>(id);
    }
    double mbps = bytes / 1e6 / encode_s;
    if (!have_hf) {
      std::printf("%-12s %8.3fs %9s %10.2f %10s %7s %s\n", name.c_str(), load_s, "-", mbps, "-", "-", "-");
      continue;
    }
    std::string out = run_capture("node '" + std::string(ALLM_BENCH_SCRIPT_DIR) + "/hf_bench.js' '" +
                                  (hf_dir / "node_modules").string() + "' '" + file.string() + "' '" +
                                  corpus_file.string() + "'");
    nlohmann::json hf;
    try {
      hf = nlohmann::json::parse(out);
    } catch (const std::exception&) {
      std::printf("%-12s %8.3fs %9s %10.2f  (HF run failed: %s)\n", name.c_str(), load_s, "-", mbps, out.c_str());
      continue;
    }
    double hf_mbps = hf["bytes"].get<double>() / 1e6 / hf["encode_s"].get<double>();
    bool same = hf["tokens"].get<size_t>() == tokens && hf["checksum"].get<uint32_t>() == checksum;
    std::printf("%-12s %8.3fs %8.3fs %10.2f %10.2f %7.2f %s\n", name.c_str(), load_s, hf["load_s"].get<double>(),
                mbps, hf_mbps, mbps / hf_mbps, same ? "yes" : "NO");
    std::fflush(stdout);
  }
  return 0;
}
