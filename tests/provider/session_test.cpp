// ChatSession: multi-turn history and the save/load round trip with cache state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "allm/error.hpp"
#include "allm/provider/session.hpp"
#include "fake_provider.hpp"

using fake::FakeOptions;
using fake::FakeProvider;

namespace {

class Sessions : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("allm-session-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path path(const std::string& name) const { return dir_ / name; }

  std::filesystem::path dir_;
};

allm::SessionOptions options() {
  allm::SessionOptions o;
  o.system_prompt = "be brief";
  o.params.temperature = 0.0;
  o.truncation = allm::TruncationPolicy::drop_oldest;
  return o;
}

}  // namespace

TEST_F(Sessions, EachTurnSendsTheWholeHistory) {
  auto p = std::make_shared<FakeProvider>();
  allm::ChatSession s(p, options());
  s.send("hi");
  auto r = s.send("again");
  EXPECT_EQ(r.text, "Hello world, how are you?");
  ASSERT_EQ(s.history().size(), 4u);
  EXPECT_EQ(s.history()[1].role, "assistant");
  EXPECT_EQ(s.history()[1].content, "Hello world, how are you?");
  // The second request: system prompt, turn 1, reply 1, turn 2.
  ASSERT_EQ(p->last_request.messages.size(), 4u);
  EXPECT_EQ(p->last_request.messages[0].content, "be brief");
  EXPECT_EQ(p->last_request.messages[3].content, "again");
  EXPECT_EQ(p->last_params.temperature, 0.0);
}

TEST_F(Sessions, FailedTurnLeavesHistoryUnchanged) {
  auto p = std::make_shared<FakeProvider>();
  allm::ChatSession s(p);
  s.send("hi");
  EXPECT_THROW(s.send("with a file", {path("missing.txt")}), allm::MediaError);
  EXPECT_EQ(s.history().size(), 2u);
}

TEST_F(Sessions, CancelledTurnKeepsWhatWasSaid) {
  auto p = std::make_shared<FakeProvider>();
  allm::ChatSession s(p);
  allm::CancellationToken cancel;
  int n = 0;
  auto r = s.send("hi", {}, [&](const allm::StreamDelta&) {
    if (++n == 1) cancel.cancel();
  }, cancel);
  EXPECT_EQ(r.finish_reason, "cancelled");
  ASSERT_EQ(s.history().size(), 2u);
  EXPECT_EQ(s.history()[1].content, "Hello");
  allm::CancellationToken early;
  early.cancel();
  s.send("ignored", {}, {}, early);
  EXPECT_EQ(s.history().size(), 2u);  // nothing was produced: no trace
}

TEST_F(Sessions, SaveLoadRoundTripRestoresHistoryAndCache) {
  auto p = std::make_shared<FakeProvider>();
  allm::ChatSession s(p, options());
  s.send("hi");
  s.send("more please");
  s.save(path("chat.json"));
  ASSERT_TRUE(std::filesystem::exists(path("chat.json.kv")));
  auto saved_state = p->save_cache_state();
  ASSERT_TRUE(saved_state);

  auto q = std::make_shared<FakeProvider>();  // same model
  auto loaded = allm::ChatSession::load(q, path("chat.json"));
  ASSERT_EQ(loaded.history().size(), s.history().size());
  for (size_t i = 0; i < s.history().size(); ++i) {
    EXPECT_EQ(loaded.history()[i].role, s.history()[i].role);
    EXPECT_EQ(loaded.history()[i].content, s.history()[i].content);
  }
  EXPECT_EQ(loaded.options().system_prompt, "be brief");
  EXPECT_EQ(loaded.options().params.temperature, 0.0);
  EXPECT_EQ(loaded.options().truncation, allm::TruncationPolicy::drop_oldest);
  EXPECT_TRUE(loaded.cache_restored());
  std::vector<allm::TokenId> expected(saved_state->data.size() / sizeof(allm::TokenId));
  std::memcpy(expected.data(), saved_state->data.data(), saved_state->data.size());
  EXPECT_EQ(q->restored_tokens, expected);
  // And the conversation goes on.
  loaded.send("last one");
  EXPECT_EQ(loaded.history().size(), 6u);
}

TEST_F(Sessions, CacheIsNotRestoredIntoADifferentModel) {
  auto p = std::make_shared<FakeProvider>();
  allm::ChatSession s(p);
  s.send("hi");
  s.save(path("chat.json"));
  FakeOptions other;
  other.model = "another-model";
  auto q = std::make_shared<FakeProvider>(other);
  auto loaded = allm::ChatSession::load(q, path("chat.json"));
  EXPECT_EQ(loaded.history().size(), 2u);
  EXPECT_FALSE(loaded.cache_restored());
  EXPECT_TRUE(q->restored_tokens.empty());
}

TEST_F(Sessions, DamagedCacheBlobIsIgnored) {
  auto p = std::make_shared<FakeProvider>();
  allm::ChatSession s(p);
  s.send("hi");
  s.save(path("chat.json"));
  {
    std::fstream kv(path("chat.json.kv"), std::ios::in | std::ios::out | std::ios::binary);
    kv.seekp(0);
    kv.put('\x7f');
  }
  auto q = std::make_shared<FakeProvider>();
  auto loaded = allm::ChatSession::load(q, path("chat.json"));
  EXPECT_EQ(loaded.history().size(), 2u);
  EXPECT_FALSE(loaded.cache_restored());
}

TEST_F(Sessions, MalformedFilesNameTheProblem) {
  auto p = std::make_shared<FakeProvider>();
  auto load_error = [&](const std::string& body) {
    std::ofstream(path("bad.json")) << body;
    try {
      allm::ChatSession::load(p, path("bad.json"));
    } catch (const allm::IoError& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  EXPECT_NE(load_error("{ not json").find("bad.json: not valid JSON"), std::string::npos);
  EXPECT_NE(load_error("{}").find("not an allm session"), std::string::npos);
  EXPECT_NE(load_error(R"({"format": 5})").find("not an allm session"), std::string::npos);
  EXPECT_NE(load_error("[1, 2]").find("not an allm session"), std::string::npos);
  EXPECT_NE(load_error(R"({"format":"allm-session","version":9,"messages":[]})").find("unsupported session version"),
            std::string::npos);
  auto m = load_error(R"({"format":"allm-session","version":1,"messages":[{"role":"user"}]})");
  EXPECT_NE(m.find("messages[0].content: missing"), std::string::npos) << m;
  EXPECT_THROW(allm::ChatSession::load(p, path("nope.json")), allm::IoError);
}
