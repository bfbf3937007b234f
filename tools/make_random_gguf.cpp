// allm-make-random-gguf: writes a GGUF file with random weights in the real
// shapes of a published model and in llama.cpp's tensor types for a file
// type, for speed measurements that need realistic sizes without downloads
// or a quantiser (speed does not depend on the values). The blocks are
// random bytes with sane scales (weights of magnitude ~0.02), written as
// llama.cpp lays them out; no tokenizer is stored (the vocabulary size comes
// from the embedding's shape), so prompts are token ids.
//
//   allm-make-random-gguf --shape llama-3.1-8b --type q4_k_m --out FILE
//
// q4_k_m follows llama.cpp's choice for that file type: Q4_K everywhere but
// the output matrix (Q6_K) and attn_v / ffn_down of the layers its
// use_more_bits rule picks (Q6_K); q8_0 and f16 store every matrix so; norm
// weights are F32.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "random_model_tool.hpp"

namespace {

using allm::DType;
using allm::tools::Rng;
namespace gguf = allm::gguf;

struct Shape {
  int64_t hidden, layers, heads, kv_heads, intermediate, vocab, context;
  double rope_theta, eps;
};

Shape shape_of(const std::string& name) {
  if (name == "llama-3.1-8b") return {4096, 32, 32, 8, 14336, 128256, 131072, 500000.0, 1e-5};
  if (name == "llama-3.2-1b") return {2048, 16, 32, 8, 8192, 128256, 131072, 500000.0, 1e-5};
  throw allm::InvalidArgumentError("--shape: unknown '" + name + "' (llama-3.1-8b, llama-3.2-1b)");
}

// In-range values only (the scales below), truncated. Below 2^-14 a half is
// subnormal: its bits count units of 2^-24 (Q6_K's d of ~1e-5 lies there;
// written as a normal number its exponent wrapped into the sign and
// exponent bits, a huge negative scale, and the 8B-shaped Q4_K_M file's
// logits were NaN).
uint16_t f16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const int exp = int((u >> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return uint16_t(sign | uint32_t(std::fabs(f) * 16777216.0f));
  const uint32_t mant = (u >> 13) & 0x3ffu;
  return uint16_t(sign | uint32_t(exp) << 10 | mant);
}

// One random block of `t` (the scales put weights near +-0.02).
void random_block(DType t, Rng& rng, uint8_t* b) {
  auto put16 = [&](size_t at, float v) {
    const uint16_t h = f16_bits(v);
    std::memcpy(b + at, &h, 2);
  };
  auto fill = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) b[i] = uint8_t(rng.next() >> 56);
  };
  const float jitter = 1.0f + float(rng.next() >> 40) / 16777216.0f;  // 1..2
  switch (t) {
    case DType::F16: {  // two values: a "block" of 2 bytes
      const float v = (float(rng.next() >> 40) / 8388608.0f - 1.0f) * 0.03f;
      put16(0, std::fabs(v) < 1e-4f ? 1e-4f : v);
      break;
    }
    case DType::Q8_0:  // d, qs[32]
      put16(0, 1.6e-4f * jitter);
      fill(2, 34);
      break;
    case DType::Q4_K:  // d, dmin, scales[12], qs[128]
      put16(0, 1e-4f * jitter);
      put16(2, 3e-4f * jitter);
      fill(4, 144);
      break;
    case DType::Q6_K:  // ql[128], qh[64], scales[16], d
      fill(0, 208);
      put16(208, 1e-5f * jitter);
      break;
    default:
      throw allm::InvalidArgumentError("random_block: unsupported type");
  }
}

// A pool of random blocks of one type; tensors take consecutive stretches of
// it from varying offsets (different bytes per tensor without generating 16 GB).
struct Pool {
  DType type;
  size_t block_bytes;
  std::vector<uint8_t> bytes;
  Pool(DType t, Rng& rng) : type(t), block_bytes(gguf::row_bytes(t, int64_t(allm::dtype_block_elems(t)))) {
    const size_t blocks = (size_t(64) << 20) / block_bytes;
    bytes.resize(blocks * block_bytes);
    for (size_t i = 0; i < blocks; ++i) random_block(t, rng, bytes.data() + i * block_bytes);
  }
  std::vector<uint8_t> take(size_t n, Rng& rng) const {
    std::vector<uint8_t> out(n);
    const size_t blocks = bytes.size() / block_bytes;
    size_t at = 0;
    while (at < n) {
      const size_t from = (rng.next() % blocks) * block_bytes;
      const size_t len = std::min(n - at, bytes.size() - from);
      std::memcpy(out.data() + at, bytes.data() + from, len);
      at += len;
    }
    return out;
  }
};

// llama.cpp's use_more_bits(i, n): the layers whose attn_v / ffn_down a
// Q4_K_M file keeps in Q6_K.
bool more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int run(int argc, char** argv) {
  std::string shape_name, type, out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw allm::InvalidArgumentError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--shape") shape_name = next();
    else if (a == "--type") type = next();
    else if (a == "--out") out = next();
    else if (a == "-h" || a == "--help") {
      std::cout << "Usage: allm-make-random-gguf --shape llama-3.1-8b|llama-3.2-1b --type q4_k_m|q8_0|f16 --out FILE\n\n"
                   "Writes a GGUF file with random weights (llama.cpp's tensor types for the file type, no\n"
                   "tokenizer) for speed measurements.\n";
      return 0;
    } else {
      throw allm::InvalidArgumentError("unknown option '" + a + "' (see --help)");
    }
  }
  if (shape_name.empty() || type.empty() || out.empty())
    throw allm::InvalidArgumentError("--shape, --type and --out are required");
  if (type != "q4_k_m" && type != "q8_0" && type != "f16")
    throw allm::InvalidArgumentError("--type: unknown '" + type + "' (q4_k_m, q8_0, f16)");
  const Shape s = shape_of(shape_name);
  Rng rng;
  const DType base = type == "q4_k_m" ? DType::Q4_K : type == "q8_0" ? DType::Q8_0 : DType::F16;
  std::vector<Pool> pools;
  pools.emplace_back(base, rng);
  if (type == "q4_k_m") pools.emplace_back(DType::Q6_K, rng);
  auto pool = [&](DType t) -> const Pool& { return t == base ? pools[0] : pools[1]; };

  gguf::Writer w;
  const std::string arch = "llama";
  w.set("general.architecture", gguf::Value::string(arch));
  w.set("general.name", gguf::Value::string("random " + shape_name + " " + type));
  w.set("general.file_type", gguf::Value::u32(type == "q4_k_m" ? 15 : type == "q8_0" ? 7 : 1));
  w.set(arch + ".block_count", gguf::Value::u32(uint32_t(s.layers)));
  w.set(arch + ".context_length", gguf::Value::u32(uint32_t(s.context)));
  w.set(arch + ".embedding_length", gguf::Value::u32(uint32_t(s.hidden)));
  w.set(arch + ".feed_forward_length", gguf::Value::u32(uint32_t(s.intermediate)));
  w.set(arch + ".attention.head_count", gguf::Value::u32(uint32_t(s.heads)));
  w.set(arch + ".attention.head_count_kv", gguf::Value::u32(uint32_t(s.kv_heads)));
  w.set(arch + ".rope.freq_base", gguf::Value::f32(float(s.rope_theta)));
  w.set(arch + ".rope.dimension_count", gguf::Value::u32(uint32_t(s.hidden / s.heads)));
  w.set(arch + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(float(s.eps)));
  w.set(arch + ".vocab_size", gguf::Value::u32(uint32_t(s.vocab)));

  auto matrix = [&](const std::string& name, DType t, int64_t rows, int64_t cols) {
    const size_t n = gguf::row_bytes(t, cols) * size_t(rows);
    const uint64_t seed = rng.next();
    w.add_tensor(name, t, {rows, cols}, [&pool, t, n, seed] {
      Rng r{seed | 1};
      return pool(t).take(n, r);
    });
  };
  auto ones = [&](const std::string& name, int64_t n) {
    std::vector<uint8_t> bytes(size_t(n) * 4);
    const float one = 1.0f;
    for (int64_t i = 0; i < n; ++i) std::memcpy(bytes.data() + 4 * i, &one, 4);
    w.add_tensor(name, DType::F32, {n}, std::move(bytes));
  };
  const int64_t head_dim = s.hidden / s.heads;
  matrix("token_embd.weight", base, s.vocab, s.hidden);
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const DType heavy = type == "q4_k_m" && more_bits(i, s.layers) ? DType::Q6_K : base;
    ones(p + "attn_norm.weight", s.hidden);
    matrix(p + "attn_q.weight", base, s.heads * head_dim, s.hidden);
    matrix(p + "attn_k.weight", base, s.kv_heads * head_dim, s.hidden);
    matrix(p + "attn_v.weight", heavy, s.kv_heads * head_dim, s.hidden);
    matrix(p + "attn_output.weight", base, s.hidden, s.heads * head_dim);
    ones(p + "ffn_norm.weight", s.hidden);
    matrix(p + "ffn_gate.weight", base, s.intermediate, s.hidden);
    matrix(p + "ffn_up.weight", base, s.intermediate, s.hidden);
    matrix(p + "ffn_down.weight", heavy, s.hidden, s.intermediate);
  }
  ones("output_norm.weight", s.hidden);
  matrix("output.weight", type == "q4_k_m" ? DType::Q6_K : base, s.vocab, s.hidden);
  w.write(out);
  std::cerr << "wrote " << out << " (" << shape_name << ", " << type << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return allm::tools::tool_main("allm-make-random-gguf", run, argc, argv); }
