// allm grammar bench --tokenizer DIR FILE... [--jsonl]
// allm grammar check (--schema FILE | --gbnf FILE | --regex RE) --tokenizer DIR --text TEXT
//
// `bench` is the MaskBench runner (JSONSchemaBench's maskbench format): for
// each file, compile its schema, then feed each test's text token by token,
// computing the full mask before each token and checking the token is in it.
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "allm/grammar.hpp"
#include "command.hpp"
#include "tokenizer_source.hpp"

namespace allm::cli {

namespace {
// Times are this thread's CPU time: on a shared machine wall time would count
// other processes' work (the benchmark runs on one core).
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
  }
};
double us_since(Clock::time_point t) { return Clock::now() - t; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool allowed(const std::vector<uint64_t>& mask, TokenId id) {
  auto i = static_cast<size_t>(id);
  return i / 64 < mask.size() && ((mask[i / 64] >> (i % 64)) & 1);
}

struct TestResult {
  bool accepted = true;
  size_t rejected_at = 0;  // token index (== count: rejected at the end)
};

// Feeds `ids` through `m`, computing a full mask before each token.
TestResult feed(grammar::Matcher& m, const std::vector<TokenId>& ids, std::vector<double>* mask_times) {
  std::vector<uint64_t> mask;
  TestResult r;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto t = Clock::now();
    m.compute_mask(mask);
    if (mask_times) mask_times->push_back(us_since(t));
    if (!allowed(mask, ids[i]) || !m.advance_token(ids[i])) {
      r.accepted = false;
      r.rejected_at = i;
      return r;
    }
  }
  if (!m.is_accepting()) r.accepted = false, r.rejected_at = ids.size();
  return r;
}

struct Summary {
  size_t files = 0, passed = 0, compile_errors = 0, invalid_accepted = 0, valid_rejected = 0;
  std::vector<double> masks, compiles;
};

nlohmann::ordered_json bench_file(const std::string& path, const Tokenizer& tok,
                                  const std::shared_ptr<const grammar::TokenTrie>& trie, Summary& sum) {
  nlohmann::ordered_json out;
  out["id"] = std::filesystem::path(path).filename().string();
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgumentError(path + ": malformed JSON: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("schema") || !doc.contains("tests") || !doc["tests"].is_array())
    throw InvalidArgumentError(path + ": expected an object with \"schema\" and an array \"tests\"");
  ++sum.files;
  auto t0 = Clock::now();
  std::unique_ptr<grammar::Matcher> m;
  std::vector<uint64_t> mask;
  try {
    m = std::make_unique<grammar::Matcher>(grammar::compile_json_schema(doc["schema"]), trie);
    m->compute_mask(mask);
  } catch (const Error& e) {
    out["compile_error"] = e.what();
    ++sum.compile_errors;
    return out;
  }
  double ttfm = us_since(t0);
  sum.compiles.push_back(ttfm);
  out["ttfm_us"] = std::llround(ttfm);
  size_t num_tokens = 0, valid = 0, invalid = 0;
  double masks_us = 0, max_mask = 0;
  std::string error;
  const auto& tests = doc["tests"];
  for (size_t i = 0; i < tests.size(); ++i) {
    const auto& test = tests[i];
    if (!test.contains("text") || !test["text"].is_string() || !test.contains("valid") || !test["valid"].is_boolean())
      throw InvalidArgumentError(path + ": tests[" + std::to_string(i) + "] needs a string \"text\" and a boolean \"valid\"");
    bool should = test["valid"].get<bool>();
    (should ? valid : invalid)++;
    auto ids = tok.encode(test["text"].get<std::string>(), false);
    m->reset();
    std::vector<double> times;
    TestResult r = feed(*m, ids, &times);
    num_tokens += times.size();
    for (double t : times) masks_us += t, max_mask = std::max(max_mask, t);
    sum.masks.insert(sum.masks.end(), times.begin(), times.end());
    if (r.accepted != should) {
      if (should) ++sum.valid_rejected;
      else ++sum.invalid_accepted;
      if (error.empty())
        error = "test #" + std::to_string(i) + ": " + (should ? "should accept but didn't" : "should reject but didn't");
    }
  }
  out["num_tokens"] = num_tokens;
  out["masks_us"] = std::llround(masks_us);
  out["max_mask_us"] = std::llround(max_mask);
  out["num_valid_tests"] = valid;
  out["num_invalid_tests"] = invalid;
  if (!error.empty()) out["validation_error"] = error;
  else ++sum.passed;
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

int run_bench(const std::string& tokenizer_dir, const std::vector<std::string>& files, bool jsonl) {
  auto tok = load_tokenizer(tokenizer_dir);
  auto trie = std::make_shared<const grammar::TokenTrie>(grammar::token_bytes(*tok));
  Summary sum;
  for (auto& f : files) {
    auto line = bench_file(f, *tok, trie, sum);
    if (jsonl) std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n" << std::flush;
  }
  double mean = 0;
  for (double t : sum.masks) mean += t;
  if (!sum.masks.empty()) mean /= static_cast<double>(sum.masks.size());
  std::ostream& os = jsonl ? std::cerr : std::cout;
  os << "files: " << sum.files << "\n"
     << "passing: " << sum.passed << " (" << (sum.files ? 100.0 * static_cast<double>(sum.passed) / static_cast<double>(sum.files) : 0)
     << "%)\n"
     << "compile errors: " << sum.compile_errors << "\n"
     << "invalid instances accepted: " << sum.invalid_accepted << "\n"
     << "valid instances rejected: " << sum.valid_rejected << "\n"
     << "masks: " << sum.masks.size() << ", mean " << mean << " us, p99 " << percentile(sum.masks, 0.99) << " us\n"
     << "compile (time to first mask) p50: " << percentile(sum.compiles, 0.5) << " us\n";
  return 0;
}

struct CheckOptions {
  std::optional<std::string> schema, gbnf, regex, text;
};

int run_check(const std::string& tokenizer_dir, const CheckOptions& o) {
  const auto& [schema, gbnf, regex, text] = o;
  if ((schema ? 1 : 0) + (gbnf ? 1 : 0) + (regex ? 1 : 0) != 1)
    throw InvalidArgumentError("grammar check: give exactly one of --schema FILE, --gbnf FILE, --regex RE");
  if (!text) throw InvalidArgumentError("grammar check: --text TEXT is required");
  std::shared_ptr<const grammar::Grammar> g;
  if (schema) {
    try {
      g = grammar::compile_json_schema_text(read_file(*schema));
    } catch (const InvalidArgumentError& e) {
      throw InvalidArgumentError(*schema + ": " + e.what());
    }
  } else if (gbnf) {
    try {
      g = grammar::compile_gbnf(read_file(*gbnf));
    } catch (const InvalidArgumentError& e) {
      throw InvalidArgumentError(*gbnf + ": " + e.what());
    }
  } else {
    g = grammar::compile_regex(*regex);
  }
  auto tok = load_tokenizer(tokenizer_dir);
  auto trie = std::make_shared<const grammar::TokenTrie>(grammar::token_bytes(*tok));
  grammar::Matcher m(g, trie);
  auto ids = tok->encode(*text, false);
  TestResult r = feed(m, ids, nullptr);
  nlohmann::ordered_json out;
  out["accepted"] = r.accepted;
  out["num_tokens"] = ids.size();
  if (!r.accepted) {
    out["rejected_at_token"] = r.rejected_at;
    if (r.rejected_at < ids.size()) out["token"] = tok->decode({ids[r.rejected_at]}, false);
    else out["reason"] = "the text ends before the grammar is complete";
  }
  std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return r.accepted ? 0 : 1;
}

int run_grammar(Args& args) {
  auto tokenizer = args.value("tokenizer");
  bool jsonl = args.flag("jsonl");
  CheckOptions check{args.value("schema"), args.value("gbnf"), args.value("regex"), args.value("text")};
  auto pos = args.positionals();
  args.finish();
  if (pos.empty()) throw InvalidArgumentError("usage: allm grammar bench|check ... (see --help)");
  if (!tokenizer) throw InvalidArgumentError("grammar " + pos[0] + ": --tokenizer DIR is required");
  if (pos[0] == "bench") {
    if (check.schema || check.gbnf || check.regex || check.text)
      throw InvalidArgumentError("grammar bench reads schemas from FILEs: --schema/--gbnf/--regex/--text are for check");
    if (pos.size() < 2) throw InvalidArgumentError("grammar bench: give at least one FILE");
    return run_bench(*tokenizer, std::vector<std::string>(pos.begin() + 1, pos.end()), jsonl);
  }
  if (pos[0] == "check") {
    if (pos.size() != 1) throw InvalidArgumentError("grammar check takes no positional arguments");
    if (jsonl) throw InvalidArgumentError("grammar check: --jsonl applies to bench only");
    return run_check(*tokenizer, check);
  }
  throw InvalidArgumentError("grammar: unknown subcommand '" + pos[0] + "' (bench or check)");
}
}  // namespace

ALLM_CLI_COMMAND(grammar, "Constrained decoding: check a text against a grammar, run MaskBench",
                 "Usage: allm grammar bench --tokenizer DIR FILE... [--jsonl]\n"
                 "       allm grammar check (--schema FILE | --gbnf FILE | --regex RE) --tokenizer DIR --text TEXT\n\n"
                 "bench: the MaskBench runner. Each FILE holds {\"schema\", \"tests\": [{\"text\", \"valid\"}]};\n"
                 "the schema is compiled, each test's text tokenized (no special tokens) and fed token\n"
                 "by token, the full mask of allowed tokens computed before each. A file passes when\n"
                 "every valid text is accepted to the end and every invalid one rejected. Prints a\n"
                 "summary; --jsonl also prints one JSON line per file (id, ttfm_us, num_tokens,\n"
                 "masks_us, max_mask_us, num_valid_tests, num_invalid_tests, and validation_error or\n"
                 "compile_error), the summary then going to stderr. Times are the thread's CPU time.\n\n"
                 "check: feeds TEXT the same way and prints {\"accepted\": ...}; exit status 1 when\n"
                 "the text is rejected, 2 when the grammar does not compile (the error names the\n"
                 "schema keyword and JSON pointer, or the GBNF/regex position).\n\n"
                 "DIR: a tokenizer.json, or a directory holding one (docs/structured-output.md).",
                 run_grammar)

}  // namespace allm::cli
