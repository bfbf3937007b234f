// The reader on llama.cpp's files, on files of every metadata type written by
// the writer (v3 and v2), and on corrupt files: each must fail with a
// ModelLoadError naming the file and the key or tensor, never crash.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "../common/temp_dir.hpp"
#include "gguf_test_util.hpp"

namespace allm::gguf::test {
namespace {

using ::allm::test::TempDir;

std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// A small file: one metadata entry of each type, two tensors.
std::vector<uint8_t> sample_file() {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("t.u8", {ValueType::U8, ValueType::U32, 200});
  w.set("t.i8", {ValueType::I8, ValueType::U32, -100});
  w.set("t.u16", {ValueType::U16, ValueType::U32, 60000});
  w.set("t.i16", {ValueType::I16, ValueType::U32, -30000});
  w.set("t.u32", Value::u32(4000000000u));
  w.set("t.i32", Value::i32(-2000000000));
  w.set("t.f32", Value::f32(0.25f));
  w.set("t.bool", Value::boolean(true));
  w.set("t.str", Value::string("h\xC3\xA9llo"));
  w.set("t.u64", Value::u64(1ull << 40));
  w.set("t.i64", {ValueType::I64, ValueType::U32, int64_t(-1) << 40});
  w.set("t.f64", {ValueType::F64, ValueType::U32, 1e300});
  w.set("t.arr", Value::array_of(ValueType::I32, {1, -2, 3}));
  w.set("t.strs", Value::array_of(ValueType::STRING, {"a", "", "ccc"}));
  w.set("t.nested", Value::array_of(ValueType::ARRAY, {{1, 2}, {3}}));
  std::vector<float> a(64);
  for (int i = 0; i < 64; ++i) a[size_t(i)] = float(i);
  std::vector<uint8_t> bytes(reinterpret_cast<uint8_t*>(a.data()), reinterpret_cast<uint8_t*>(a.data() + 64));
  w.add_tensor("a.weight", DType::F32, {2, 32}, bytes);
  std::vector<uint8_t> q(row_bytes(DType::Q8_0, 32) * 3);
  for (int r = 0; r < 3; ++r) quantize_row(DType::Q8_0, a.data(), q.data() + r * 34, 32);
  w.add_tensor("b.weight", DType::Q8_0, {3, 32}, q);
  TempDir tmp;
  const auto p = tmp / "sample.gguf";
  w.write(p);
  return read_bytes(p);
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    File::parse(bytes.data(), bytes.size(), "bad.gguf");
  } catch (const ModelLoadError& e) {
    return e.what();
  }
  return "";
}

// Offset of the first occurrence of `needle` in the file bytes.
size_t find(const std::vector<uint8_t>& bytes, const std::string& needle) {
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  EXPECT_NE(it, bytes.end()) << needle;
  return size_t(it - bytes.begin());
}

template <class T>
void poke(std::vector<uint8_t>& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

TEST(GgufReader, LlamaCppFile) {
  auto f = File::open(data("llama-q4_k_m.gguf"));
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->tensors().size(), 22u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->find("llama.block_count")->type, ValueType::U32);
  EXPECT_EQ(f->get_int("llama.block_count"), 2);
  EXPECT_NEAR(*f->get_float("llama.rope.freq_base"), 500000.0, 1e-6);
  EXPECT_EQ(f->get_bool("tokenizer.ggml.add_bos_token"), false);
  ASSERT_NE(f->get_array("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ(f->get_array("tokenizer.ggml.tokens")->size(), 512u);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->array_type, ValueType::STRING);
  EXPECT_THROW(f->get_string("llama.block_count"), ModelLoadError);

  auto* embd = f->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  Tensor t = f->view(*embd);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{512, 64}));  // PyTorch order
  EXPECT_EQ(t.dtype, DType::Q5_0);
  EXPECT_EQ(t.nbytes, 512u * 2 * 22);
  EXPECT_EQ(f->view(*f->find_tensor("output.weight")).dtype, DType::Q8_0);
  EXPECT_EQ(f->view(*f->find_tensor("blk.1.ffn_down.weight")).shape, (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(f->view(*f->find_tensor("output_norm.weight")).shape, (std::vector<int64_t>{64}));
}

TEST(GgufReader, EveryValueTypeRoundTrips) {
  auto bytes = sample_file();
  for (uint32_t version : {3u, 2u}) {
    poke<uint32_t>(bytes, 4, version);
    auto f = File::parse(bytes.data(), bytes.size(), "sample.gguf");
    EXPECT_EQ(f->version(), version);
    EXPECT_EQ(f->get_int("t.u8"), 200);
    EXPECT_EQ(f->get_int("t.i8"), -100);
    EXPECT_EQ(f->get_int("t.u16"), 60000);
    EXPECT_EQ(f->get_int("t.i16"), -30000);
    EXPECT_EQ(f->get_int("t.u32"), 4000000000ll);
    EXPECT_EQ(f->get_int("t.i32"), -2000000000);
    EXPECT_EQ(f->get_float("t.f32"), 0.25);
    EXPECT_EQ(f->get_bool("t.bool"), true);
    EXPECT_EQ(f->get_string("t.str"), "h\xC3\xA9llo");
    EXPECT_EQ(f->get_int("t.u64"), 1ll << 40);
    EXPECT_EQ(f->get_int("t.i64"), -(1ll << 40));
    EXPECT_EQ(f->get_float("t.f64"), 1e300);
    EXPECT_EQ(f->get_array("t.arr")->to_json(), nlohmann::json({1, -2, 3}));
    EXPECT_EQ(f->get_array("t.arr")->integer(1), -2);
    EXPECT_EQ(f->get_array("t.arr")->number(2), 3.0);
    EXPECT_EQ(f->get_array("t.strs")->to_json(), nlohmann::json({"a", "", "ccc"}));
    EXPECT_EQ(f->get_array("t.strs")->string(2), "ccc");
    EXPECT_EQ(f->get_array("t.nested")->to_json(), nlohmann::json({{1, 2}, {3}}));
    EXPECT_EQ(f->get_array("t.nested")->array(1).integer(0), 3);
    EXPECT_EQ(f->find("t.nested")->array_type, ValueType::ARRAY);
    auto* b = f->find_tensor("b.weight");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(f->view(*b).shape, (std::vector<int64_t>{3, 32}));
    float row[32];
    dequantize_row(DType::Q8_0, f->tensor_data(*b) + 2 * 34, row, 32);
    EXPECT_NEAR(row[31], 31.0f, 0.2f);
    auto* a = f->find_tensor("a.weight");
    EXPECT_EQ(reinterpret_cast<const float*>(f->tensor_data(*a))[63], 63.0f);
  }
}

// Arrays are read in place: every element type through its typed accessor,
// the wrong accessor refused, JSON only on request; a bool element that is
// neither 0 nor 1 is named; a file claiming more strings than the limit is
// refused before anything is allocated for them.
TEST(GgufReader, ArraysAreReadInPlace) {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  const std::vector<std::pair<ValueType, nlohmann::json>> cases = {
      {ValueType::U8, {0, 255}},           {ValueType::I8, {-128, 127}},
      {ValueType::U16, {0, 65535}},        {ValueType::I16, {-32768, 32767}},
      {ValueType::U32, {0, 4294967295u}},  {ValueType::I32, {-5, 2147483647}},
      {ValueType::U64, {7, 9223372036854775808ull}}, {ValueType::I64, {-(int64_t(1) << 62), 3}},
      {ValueType::F32, {0.5, -2.25}},      {ValueType::F64, {1e300, -1e-300}},
      {ValueType::BOOL, {true, false}},    {ValueType::STRING, {"x", "h\xC3\xA9"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) w.set("t.a" + std::to_string(i), Value::array_of(cases[i].first, cases[i].second));
  TempDir tmp;
  auto p = tmp / "arrays.gguf";
  w.write(p);
  auto bytes = read_bytes(p);
  auto f = File::parse(bytes.data(), bytes.size(), "arrays.gguf");
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [type, items] = cases[i];
    const Array* a = f->get_array("t.a" + std::to_string(i));
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->type(), type);
    ASSERT_EQ(a->size(), 2u);
    EXPECT_EQ(a->to_json(), items) << value_type_name(type);
    if (type == ValueType::STRING) {
      EXPECT_EQ(a->string(1), "h\xC3\xA9");
      EXPECT_THROW(a->number(0), InvalidArgumentError);
    } else if (type == ValueType::BOOL) {
      EXPECT_TRUE(a->boolean(0));
      EXPECT_THROW(a->integer(0), InvalidArgumentError);
    } else {
      EXPECT_TRUE(a->is_number());
      EXPECT_EQ(a->number(1), items[1].get<double>()) << value_type_name(type);
      EXPECT_THROW(a->string(0), InvalidArgumentError);
      if (a->is_integer() && type != ValueType::U64) {
        EXPECT_EQ(a->integer(0), items[0].get<int64_t>());
      }
    }
  }
  EXPECT_THROW(f->get_array("t.a6")->integer(1), InvalidArgumentError);  // 2^63 as int64

  // A bool array holding 2.
  auto bad = bytes;
  const size_t bools = find(bad, "t.a10") + 5 + 4 + 4 + 8;
  bad[bools + 1] = 2;
  EXPECT_NE(parse_error(bad).find("'t.a10'[1]: bool value 2 is neither 0 nor 1"), std::string::npos) << parse_error(bad);

  // 4,194,305 empty strings (32 MiB of file) pass the limit.
  std::vector<uint8_t> many;
  auto put = [&](auto v) { many.insert(many.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + sizeof v); };
  put(uint32_t(0x46554747u)); put(uint32_t(3)); put(uint64_t(0)); put(uint64_t(1));
  put(uint64_t(1)); many.push_back('k');
  put(uint32_t(ValueType::ARRAY)); put(uint32_t(ValueType::STRING)); put(uint64_t((1u << 22) + 1));
  many.resize(many.size() + ((size_t(1) << 22) + 1) * 8, 0);
  EXPECT_NE(parse_error(many).find("'k': array of 4194305 strings exceeds the limit of 4194304"), std::string::npos)
      << parse_error(many);
}

struct Corruption {
  std::string what;
  std::function<void(std::vector<uint8_t>&)> apply;
  std::string expected;  // substring of the message
};

TEST(GgufReader, CorruptFilesNameTheirPlace) {
  std::vector<Corruption> cases = {
      {"magic", [](auto& b) { b[0] = 'X'; }, "bad magic"},
      {"version 1", [](auto& b) { poke<uint32_t>(b, 4, 1); }, "version 1"},
      {"version 4", [](auto& b) { poke<uint32_t>(b, 4, 4); }, "version 4"},
      {"tensor count", [](auto& b) { poke<uint64_t>(b, 8, uint64_t(1) << 60); }, "tensor count"},
      {"metadata count", [](auto& b) { poke<uint64_t>(b, 16, uint64_t(1) << 50); }, "metadata count"},
      {"key length", [](auto& b) { poke<uint64_t>(b, 24, uint64_t(1) << 40); }, "past the end"},
      {"value type", [](auto& b) { poke<uint32_t>(b, find(b, "t.u8") + 4, 99); }, "'t.u8': unknown value type 99"},
      {"string length", [](auto& b) { poke<uint64_t>(b, find(b, "t.str") + 5 + 4, uint64_t(1) << 40); },
       "'t.str'"},
      {"array length", [](auto& b) { poke<uint64_t>(b, find(b, "t.arr") + 5 + 4 + 4, uint64_t(1) << 61); },
       "'t.arr': array of"},
      {"array type", [](auto& b) { poke<uint32_t>(b, find(b, "t.arr") + 5 + 4, 77); }, "'t.arr': unknown array element type"},
      {"bool", [](auto& b) { b[find(b, "t.bool") + 6 + 4] = 7; }, "'t.bool': bool value 7"},
      {"duplicate key", [](auto& b) { b[find(b, "t.i8") + 2] = 'u'; }, "'t.u8' appears twice"},
      {"tensor type", [](auto& b) { poke<uint32_t>(b, find(b, "b.weight") + 8 + 4 + 16, 41); },
       "tensor 'b.weight': unsupported ggml type 41"},
      {"dims", [](auto& b) { poke<uint32_t>(b, find(b, "b.weight") + 8, 5); }, "tensor 'b.weight': 5 dimensions"},
      {"zero dim", [](auto& b) { poke<uint64_t>(b, find(b, "b.weight") + 8 + 4, 0); }, "tensor 'b.weight': dimension 0"},
      {"block size", [](auto& b) { poke<uint64_t>(b, find(b, "b.weight") + 8 + 4, 48); },
       "tensor 'b.weight': row length 48"},
      {"misaligned", [](auto& b) { poke<uint64_t>(b, find(b, "b.weight") + 8 + 4 + 16 + 4, 260); },
       "tensor 'b.weight': data offset 260 is not aligned"},
      {"offset past end", [](auto& b) { poke<uint64_t>(b, find(b, "b.weight") + 8 + 4 + 16 + 4, 1u << 20); },
       "tensor 'b.weight': data"},
      {"overlap", [](auto& b) { poke<uint64_t>(b, find(b, "b.weight") + 8 + 4 + 16 + 4, 224); },
       "overlaps the data of tensor 'a.weight'"},
      {"duplicate tensor", [](auto& b) { b[find(b, "b.weight")] = 'a'; }, "tensor 'a.weight' appears twice"},
      {"huge dim", [](auto& b) { poke<uint64_t>(b, find(b, "b.weight") + 8 + 4 + 8, uint64_t(1) << 62); },
       "tensor 'b.weight'"},
  };
  for (auto& c : cases) {
    auto bytes = sample_file();
    c.apply(bytes);
    std::string msg = parse_error(bytes);
    EXPECT_NE(msg.find("bad.gguf"), std::string::npos) << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.what << ": " << msg;
  }
}

TEST(GgufReader, EveryTruncationFailsCleanly) {
  auto bytes = sample_file();
  // Cuts inside the trailing alignment padding leave a valid file.
  auto whole = File::parse(bytes.data(), bytes.size(), "whole.gguf");
  size_t end = 0;
  for (auto& t : whole->tensors()) end = std::max<size_t>(end, whole->data_offset() + t.offset + t.nbytes);
  ASSERT_LT(end, bytes.size());
  EXPECT_NO_THROW(File::parse(bytes.data(), end, "cut.gguf"));
  for (size_t n = 0; n < end; ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(n));
    EXPECT_THROW(File::parse(cut.data(), cut.size(), "cut.gguf"), ModelLoadError) << n;
  }
}

TEST(GgufReader, RandomByteFlipsNeverCrash) {
  auto good = sample_file();
  std::mt19937 rng(1);
  for (int i = 0; i < 3000; ++i) {
    auto b = good;
    for (int k = 0; k < 3; ++k) b[rng() % 700] = uint8_t(rng());
    try {
      auto f = File::parse(b.data(), b.size(), "flip.gguf");
      for (auto& t : f->tensors()) (void)f->view(t);
    } catch (const ModelLoadError&) {
    }
  }
}

TEST(GgufReader, OpenErrors) {
  TempDir tmp;
  EXPECT_THROW(File::open(tmp / "missing.gguf"), IoError);
  auto p = tmp / "empty.gguf";
  std::ofstream(p).close();
  try {
    File::open(p);
    FAIL();
  } catch (const ModelLoadError& e) {
    EXPECT_NE(std::string(e.what()).find("empty.gguf"), std::string::npos);
  }
}

}  // namespace
}  // namespace allm::gguf::test
