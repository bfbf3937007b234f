// allm convert MODEL --to gguf --type TYPE [--out FILE]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/model_loader.hpp"
#include "command.hpp"
#include "context.hpp"

namespace allm::cli {

// A one-line progress bar on stderr (redrawn in place on a terminal; a few
// plain lines otherwise).
class ProgressBar {
 public:
  void update(uint64_t done, uint64_t total, const std::string& tensor) {
    const bool tty = isatty(STDERR_FILENO) != 0;
    const int percent = total ? int(done * 100 / total) : 100;
    if (!tty && percent < last_ + 10 && done != total) return;
    last_ = percent;
    const int width = 30, filled = percent * width / 100;
    std::string bar(size_t(filled), '#');
    bar.resize(size_t(width), '.');
    std::fprintf(stderr, "%s[%s] %3d%%  %.1f/%.1f MiB  %-40.40s%s", tty ? "\r" : "", bar.c_str(), percent,
                 double(done) / 1048576.0, double(total) / 1048576.0, tensor.c_str(), tty ? "" : "\n");
    if (tty && done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  int last_ = -100;
};

static int run_convert(Args& args) {
  auto to = args.value("to").value_or("gguf");
  auto type_name = args.value("type").value_or("f16");
  auto out = args.value("out", "-o");
  auto pos = args.positionals();
  args.finish();
  if (pos.size() != 1) throw InvalidArgumentError("usage: allm convert MODEL --to gguf --type TYPE [--out FILE]");
  if (to != "gguf") throw InvalidArgumentError("--to '" + to + "': only 'gguf' is supported");
  auto type = gguf::file_type_from_name(type_name);
  if (!type) throw InvalidArgumentError("--type '" + type_name + "': expected f32, f16, bf16, q8_0, q4_0, q4_k_m or mxfp4_moe");

  std::filesystem::path model(pos[0]);
  host().plugins();  // each family's GGUF names come with its architecture plugin
  Checkpoint ck = load_checkpoint(model);
  std::filesystem::path target = out ? std::filesystem::path(*out)
                                     : std::filesystem::path(std::filesystem::absolute(model).lexically_normal().filename().string() +
                                                             "-" + type_name + ".gguf");
  if (std::filesystem::absolute(model) == std::filesystem::absolute(target))
    throw InvalidArgumentError("--out would overwrite the input " + model.string());
  ProgressBar bar;
  gguf::ConvertOptions opt;
  opt.type = *type;
  opt.progress = [&](uint64_t done, uint64_t total, const std::string& t) { bar.update(done, total, t); };
  auto start = std::chrono::steady_clock::now();
  gguf::write_checkpoint(ck, target, opt);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::error_code ec;
  auto size = std::filesystem::file_size(target, ec);
  std::fprintf(stderr, "wrote %s (%.1f MiB) in %.1f s\n", target.string().c_str(), double(size) / 1048576.0, secs);
  std::cout << target.string() << "\n";
  return 0;
}

ALLM_CLI_COMMAND(convert, "Convert a checkpoint to GGUF (optionally quantizing it)",
                 "Usage: allm convert MODEL --to gguf [--type TYPE] [--out FILE]\n\n"
                 "Writes MODEL (a Hugging Face or MLX checkpoint directory, or a GGUF file)\n"
                 "as a GGUF file that llama.cpp and allm load: architecture metadata, the\n"
                 "vocabulary from tokenizer.json, the chat template, and the weights in the\n"
                 "requested type. MLX-quantized weights are dequantized and requantized.\n"
                 "A progress bar goes to stderr; the path written is printed on stdout.\n\n"
                 "  --to gguf        output format (only gguf)\n"
                 "  --type TYPE      f32 | f16 (default) | bf16 | q8_0 | q4_0 | q4_k_m | mxfp4_moe\n"
                 "                   q4_k_m follows llama.cpp's recipe: Q4_K, with Q6_K for\n"
                 "                   the output and some attn_v/ffn_down layers; rows that are\n"
                 "                   not a multiple of 256 fall back to Q5_0 / Q8_0;\n"
                 "                   mxfp4_moe: experts MXFP4, other matrices Q8_0\n"
                 "  -o, --out FILE   output path (default: <model name>-<type>.gguf here)\n\n"
                 "Supported model types: llama, mistral, mixtral, qwen2, qwen3, qwen3_moe,\n"
                 "gemma3_text, granite, smollm3, olmo2, gpt_oss, with byte-level BPE\n"
                 "vocabularies. See docs/gguf.md.\n",
                 run_convert)

}  // namespace allm::cli
