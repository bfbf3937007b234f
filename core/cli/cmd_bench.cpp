// allm bench MODEL [--prompt-tokens N] [--gen-tokens N] [--threads N] [--json-schema FILE | --grammar FILE]
//                  [--no-warmup] [--no-bandwidth] [--json]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "allm/bandwidth.hpp"
#include "allm/engine.hpp"
#include "allm/generation_request.hpp"
#include "allm/grammar.hpp"
#include "allm/kv_format.hpp"
#include "allm/threadpool.hpp"
#include "engine_cli.hpp"

namespace allm::cli {

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// --json-schema / --grammar: the constraint every sequence decodes under, as
// constrained generation applies it (grammar::mask_logits before the argmax,
// the matcher advanced on the chosen token). What it costs per token is timed
// apart from the forward passes.
struct BenchConstraint {
  std::string kind, path;
  std::shared_ptr<const grammar::Grammar> grammar;
  std::vector<grammar::Matcher> matchers;  // one per sequence
  std::vector<int32_t> eos_ids;
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<int32_t> first_reply;  // the first sequence's tokens, to show what was decoded
};

std::optional<BenchConstraint> bench_constraint(const std::optional<std::string>& schema,
                                                const std::optional<std::string>& gbnf) {
  auto file = grammar_file_option(schema, gbnf);  // before loading the model, as allm run
  if (!file) return std::nullopt;
  BenchConstraint c;
  c.kind = file->grammar.kind;
  c.path = file->path;
  c.grammar = file->compiled;
  return c;
}

uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace

static int run_bench(Args& args) {
  const bool json = args.flag("json");
  const int64_t prompt = args.integer("prompt-tokens").value_or(512);
  const int64_t gen = args.integer("gen-tokens").value_or(128);
  const int threads_arg = thread_option(args);
  const bool skip_bw = args.flag("no-bandwidth");
  const bool warmup = !args.flag("no-warmup");
  const int64_t batch = args.integer("batch").value_or(1);
  const int64_t depth = args.integer("depth").value_or(0);
  const auto kv_type_text = args.value("kv-type");
  const KVType kv_type = kv_type_text ? parse_kv_type(*kv_type_text, "--kv-type") : KVType::f32;
  const std::string backend = backend_option(args);
  const int64_t gpu_layers = gpu_layers_option(args);
  std::optional<BenchConstraint> constraint = bench_constraint(args.value("json-schema"), args.value("grammar"));
  auto pos = args.positionals();
  args.finish();
  if (pos.size() != 1)
    throw InvalidArgumentError(
        "usage: allm bench MODEL [--prompt-tokens N] [--gen-tokens N] [--threads N] [--batch N] [--depth D] "
        "[--kv-type f32|f16|q8_0] [--backend NAME] [--gpu-layers N] [--json-schema FILE | --grammar FILE] [--no-warmup] [--no-bandwidth] "
        "[--json]");
  if (prompt < 1) throw InvalidArgumentError("--prompt-tokens must be >= 1");
  if (gen < 1) throw InvalidArgumentError("--gen-tokens must be >= 1");
  if (batch < 1 || batch > 4096) throw InvalidArgumentError("--batch must be between 1 and 4096");
  if (depth < 0) throw InvalidArgumentError("--depth must be >= 0");
  const int threads = threads_arg > 0 ? threads_arg : ThreadPool::physical_cores();

  LoadedModel lm = load_cli_model(choose_model(pos[0]), "allm bench", threads, backend, gpu_layers);
  Model& model = *lm.model;
  const ModelInfo& info = model.info();
  if (depth + prompt + gen > info.context_length)
    throw InvalidArgumentError("--depth + --prompt-tokens + --gen-tokens exceed the context window of " +
                               std::to_string(info.context_length));

  if (constraint) {
    constraint->tokenizer = load_checkpoint_tokenizer(lm.checkpoint);
    const auto trie = std::make_shared<const grammar::TokenTrie>(grammar::token_bytes(*constraint->tokenizer));
    for (int64_t b = 0; b < batch; ++b) constraint->matchers.emplace_back(constraint->grammar, trie);
    constraint->eos_ids = eos_ids_of(lm.checkpoint.generation, constraint->tokenizer.get());
  }

  std::mt19937 rng(1234);
  std::vector<int32_t> ids(static_cast<size_t>(prompt));
  for (auto& t : ids) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(info.vocab_size));
  OutputBuffer logits(model, static_cast<size_t>(info.vocab_size));
  if (warmup) {
    // As llama-bench: one short prefill and one decode step first, so the
    // timed runs neither fault in the mapped weights nor grow scratch buffers.
    auto scratch = model.make_cache(std::min<int64_t>(prompt, 16) + 1);
    model.forward(std::span<const int32_t>(ids.data(), static_cast<size_t>(std::min<int64_t>(prompt, 16))), *scratch,
                  LogitsMode::last, logits.data());
    model.forward(std::span<const int32_t>(ids.data(), 1), *scratch, LogitsMode::last, logits.data());
  }
  // `batch` sequences in one pool, each holding `depth` untimed positions
  // first (forks of one prefix: shared blocks, as a prompt cache keeps them).
  auto pool = model.make_pool(0, kv_type);
  std::vector<std::unique_ptr<KVCache>> caches;
  {
    auto prefix = std::make_unique<KVCache>(pool);
    std::vector<int32_t> fill(static_cast<size_t>(std::min<int64_t>(depth, 512)));
    for (int64_t at = 0; at < depth; at += static_cast<int64_t>(fill.size())) {
      const int64_t len = std::min<int64_t>(depth - at, static_cast<int64_t>(fill.size()));
      for (int64_t i = 0; i < len; ++i) fill[i] = static_cast<int32_t>(rng() % static_cast<uint32_t>(info.vocab_size));
      model.forward(std::span<const int32_t>(fill.data(), static_cast<size_t>(len)), *prefix, LogitsMode::none,
                    nullptr);
    }
    for (int64_t b = 0; b < batch; ++b) caches.push_back(prefix->fork(depth));
  }
  logits.resize(static_cast<size_t>(batch * info.vocab_size));  // grows: the warm-up's row is not kept
  std::vector<BatchEntry> entries(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) entries[b] = {caches[b].get(), ids, LogitsMode::last};

  double t0 = now_ms();
  model.forward(entries, logits.data());
  const double prefill_ms = now_ms() - t0;

  std::vector<int32_t> next(static_cast<size_t>(batch));
  std::vector<double> step_ms;
  step_ms.reserve(static_cast<size_t>(gen));
  double constraint_ms = 0;  // masks and matcher advances, all sequences
  t0 = now_ms();
  const double cpu0 = cpu_seconds();
  for (int64_t i = 0; i < gen; ++i) {
    for (int64_t b = 0; b < batch; ++b) {
      float* row = logits.data() + b * info.vocab_size;
      double c0 = constraint ? now_ms() : 0;
      if (constraint) {
        grammar::mask_logits(constraint->matchers[b], row, info.vocab_size, constraint->eos_ids);
        constraint_ms += now_ms() - c0;
      }
      next[b] = static_cast<int32_t>(std::max_element(row, row + info.vocab_size) - row);
      if (constraint) {
        // An end-of-sequence token has no bytes: the matcher stays put (a
        // finished reply keeps choosing it, as with --ignore-eos).
        c0 = now_ms();
        constraint->matchers[b].advance_token(next[b]);
        constraint_ms += now_ms() - c0;
        if (b == 0) constraint->first_reply.push_back(next[b]);
      }
      entries[b].tokens = std::span<const int32_t>(&next[b], 1);
    }
    const double s0 = now_ms();
    model.forward(entries, logits.data());
    step_ms.push_back(now_ms() - s0);
  }
  const double decode_ms = now_ms() - t0;
  // CPU time this process got while decoding, per thread and wall second: below
  // 1 when other processes compete for the cores (the measurement is then
  // limited by CPU share, not by memory bandwidth).
  const double decode_cpu_s = cpu_seconds() - cpu0;
  const double cpu_share = decode_cpu_s / (decode_ms / 1000.0) / threads;
  std::sort(step_ms.begin(), step_ms.end());
  const double median_step_ms = step_ms[step_ms.size() / 2];
  // Tokens/s of one sequence; the batch's aggregate is `batch` times that.
  const double prefill_tps = prompt * 1000.0 / prefill_ms * batch, decode_tps = gen * 1000.0 / decode_ms;
  const double median_tps = 1000.0 / median_step_ms;
  const double aggregate_tps = decode_tps * batch;
  const double achieved_gb_s = static_cast<double>(info.bytes_per_token) * decode_tps / 1e9;

  const uint64_t model_peak_rss = peak_rss_bytes();  // before the bandwidth buffers exist
  BandwidthResult bw;
  if (!skip_bw) {
    ThreadPool pool(threads);
    bw = measure_memory_bandwidth(pool);
  }
  const double fraction = bw.read_gb_s > 0 ? achieved_gb_s / bw.read_gb_s : 0;
  const double median_fraction =
      bw.read_gb_s > 0 ? static_cast<double>(info.bytes_per_token) * median_tps / 1e9 / bw.read_gb_s : 0;

  nlohmann::json j = {{"model", pos[0]},
                      {"model_type", info.model_type},
                      {"dtype", lm.checkpoint.dtype},
                      {"threads", threads},
                      {"backend", info.backend},
                      {"kernels", cpu_kernel_name()},
                      {"load_ms", lm.load_ms},
                      {"prompt_tokens", prompt},
                      {"gen_tokens", gen},
                      {"prefill_tokens_per_s", prefill_tps},
                      {"decode_tokens_per_s", decode_tps},
                      {"decode_median_tokens_per_s", median_tps},
                      {"bytes_per_token", info.bytes_per_token},
                      {"decode_gb_per_s", achieved_gb_s},
                      {"memory_read_gb_per_s", bw.read_gb_s},
                      {"memory_copy_gb_per_s", bw.copy_gb_s},
                      {"bandwidth_fraction", fraction},
                      {"bandwidth_fraction_median", median_fraction},
                      {"decode_cpu_share", cpu_share},
                      {"peak_rss_bytes", model_peak_rss},
                      {"batch", batch},
                      {"depth", depth},
                      {"decode_aggregate_tokens_per_s", aggregate_tps},
                      {"kv_type", kv_type_name(kv_type)},
                      {"kv_bytes_per_position", pool->bytes_per_position()},
                      {"kv_bytes_in_use", pool->bytes_in_use()},
                      {"decode_cpu_ms_per_token", decode_cpu_s * 1000.0 / static_cast<double>(gen)}};
  if (constraint)
    j["constraint"] = {{"kind", constraint->kind},
                       {"file", constraint->path},
                       {"us_per_token", constraint_ms * 1000.0 / static_cast<double>(gen * batch)},
                       {"fraction_of_decode", constraint_ms / decode_ms},
                       {"text", constraint->tokenizer->decode(constraint->first_reply, true)}};
  if (json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("model            %s (%s, %s)\n", pos[0].c_str(), info.model_type.c_str(), lm.checkpoint.dtype.c_str());
  std::printf("backend          %s\n", info.backend.c_str());
  std::printf("threads          %d (%s kernels)\n", threads, cpu_kernel_name());
  std::printf("load             %.0f ms\n", lm.load_ms);
  std::printf("prefill          %lld tokens, %.1f tok/s\n", static_cast<long long>(prompt), prefill_tps);
  if (batch > 1 || depth > 0)
    std::printf("batch            %lld sequences, %lld positions already cached in each\n",
                static_cast<long long>(batch), static_cast<long long>(depth));
  std::printf("decode           %lld tokens, %.2f tok/s (median step: %.2f tok/s)%s\n", static_cast<long long>(gen),
              decode_tps, median_tps, batch > 1 ? " per sequence" : "");
  if (batch > 1) std::printf("decode (all)     %.2f tok/s over %lld sequences\n", aggregate_tps, static_cast<long long>(batch));
  if (constraint)
    std::printf("constraint       %s %s: %.1f us per token (mask + advance), %.2f%% of decode time\n",
                constraint->kind.c_str(), constraint->path.c_str(),
                constraint_ms * 1000.0 / static_cast<double>(gen * batch), constraint_ms / decode_ms * 100);
  std::printf("KV cache         %s, %llu bytes per cached position, %.1f MB in use\n", kv_type_name(kv_type),
              static_cast<unsigned long long>(pool->bytes_per_position()), pool->bytes_in_use() / 1e6);
  std::printf("cpu share        %.0f%% of %d threads during decode%s\n", cpu_share * 100, threads,
              cpu_share < 0.9 ? " (other processes compete for the cores)" : "");
  std::printf("bytes/token      %.1f MB  -> %.2f GB/s of weights\n", info.bytes_per_token / 1e6, achieved_gb_s);
  if (!skip_bw)
    std::printf("memory bandwidth read %.2f GB/s, copy %.2f GB/s  -> decode at %.0f%% of read bandwidth "
                "(median step: %.0f%%)\n",
                bw.read_gb_s, bw.copy_gb_s, fraction * 100, median_fraction * 100);
  std::printf("peak RSS         %.1f MB\n", model_peak_rss / 1e6);
  return 0;
}

ALLM_CLI_COMMAND(bench, "Measure load time, prefill and decode speed against memory bandwidth",
                 "Usage: allm bench MODEL [--prompt-tokens N] [--gen-tokens N] [--threads N] [--batch N]\n"
                 "                        [--depth D] [--kv-type f32|f16|q8_0] [--backend NAME]\n"
                 "                        [--gpu-layers N]\n"
                 "                        [--json-schema FILE | --grammar FILE] [--no-warmup]\n"
                 "                        [--no-bandwidth] [--json]\n\n"
                 "Loads MODEL, runs a short warm-up (a 16-token prefill and one decode step,\n"
                 "as llama-bench does), prefills N random prompt tokens in one forward pass, then\n"
                 "decodes greedily token by token. Reports load time, prefill and decode\n"
                 "tokens/s (overall and from the median step), the weight bytes one decode step reads, the memory bandwidth of\n"
                 "this machine (a read pass and a copy over 512 MiB buffers on the same number\n"
                 "of threads), the fraction of the read bandwidth decode achieves, the CPU\n"
                 "share the process got while decoding (below 100% when other processes compete\n"
                 "for the cores), the CPU time per decoded token, and peak RSS.\n\n"
                 "  --prompt-tokens N    prompt length (default 512)\n"
                 "  --gen-tokens N       tokens to decode (default 128)\n"
                 "  --threads N          compute threads (default: physical cores)\n"
                 "  --batch N            N sequences prefilled and decoded together in each forward\n"
                 "                       pass (decode: per-sequence and aggregate tok/s)\n"
                 "  --depth D            D positions already in each sequence's KV cache before timing\n"
                 "  --kv-type T          KV cache storage: f32 (default), f16, q8_0\n"
                 "  --backend NAME       compute backend (default: config backend, else the usable\n"
                 "                       one with the highest score; see allm info)\n"
                 "  --gpu-layers N       with a GPU backend, only the first N layers there, the\n"
                 "                       rest on the CPU (default: config gpu_layers, -1 = all)\n"
                 "  --json-schema FILE   decode under the JSON schema in FILE, as constrained\n"
                 "                       generation does (the mask applied before each argmax);\n"
                 "                       reports the constraint's time per token apart (and\n"
                 "                       with --json the first sequence's text)\n"
                 "  --grammar FILE       the same with the GBNF grammar in FILE\n"
                 "  --no-bandwidth       skip the memory bandwidth measurement\n"
                 "  --no-warmup          time the first forward passes too (page faults, buffer growth)\n"
                 "  --json               print one JSON object\n",
                 run_bench)

}  // namespace allm::cli
