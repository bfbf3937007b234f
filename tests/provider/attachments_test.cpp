// Attachments in requests: loaded through the registered media handlers,
// text folded into its turn, images kept aside and refused without vision.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "allm/error.hpp"
#include "allm/registry.hpp"
#include "fake_provider.hpp"

using fake::FakeOptions;
using fake::FakeProvider;

namespace {

// Minimal handlers: "*.txt" as text, "*.img" as a 1x1 grey image.
class TestText : public allm::MediaHandler {
 public:
  std::string describe() const override { return "test text (.txt)"; }
  allm::MediaKind kind() const override { return allm::MediaKind::text; }
  int score(const std::filesystem::path& p, std::span<const uint8_t>) const override {
    return allm::lower_extension(p) == "txt" ? 50 : 0;
  }
  allm::MediaContent load(const std::filesystem::path& p, std::span<const uint8_t> bytes) const override {
    allm::MediaContent c;
    c.kind = allm::MediaKind::text;
    c.text = allm::format_text_attachment(p.filename().string(), std::string(bytes.begin(), bytes.end()));
    return c;
  }
};

class TestImage : public allm::MediaHandler {
 public:
  std::string describe() const override { return "test image (.img)"; }
  allm::MediaKind kind() const override { return allm::MediaKind::image; }
  int score(const std::filesystem::path& p, std::span<const uint8_t>) const override {
    return allm::lower_extension(p) == "img" ? 50 : 0;
  }
  allm::MediaContent load(const std::filesystem::path& p, std::span<const uint8_t>) const override {
    ++decoded;
    allm::MediaContent c;
    c.kind = allm::MediaKind::image;
    c.source = p;
    c.image = {{128}, 1, 1, 1};
    return c;
  }
  mutable int decoded = 0;  // load() calls: an image refused for want of vision is never decoded
};

class Attachments : public ::testing::Test {
 protected:
  void SetUp() override {
    allm::Registry::instance().clear();
    allm::Registry::instance().add({ALLM_KIND_MEDIA_HANDLER, "text", 100, &text_, "test", "<builtin>"});
    allm::Registry::instance().add({ALLM_KIND_MEDIA_HANDLER, "image", 100, &image_, "test", "<builtin>"});
    dir_ = std::filesystem::temp_directory_path() / ("allm-attach-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    write("notes.txt", "remember the milk");
    write("photo.img", "pixels");
    write("big.txt", std::string(100, 'x'));
  }
  void TearDown() override {
    allm::Registry::instance().clear();
    std::filesystem::remove_all(dir_);
  }
  void write(const std::string& name, const std::string& body) {
    std::ofstream(dir_ / name) << body;
  }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }

  TestText text_;
  TestImage image_;
  std::filesystem::path dir_;
};

}  // namespace

TEST_F(Attachments, TextIsFoldedBeforeTheTurn) {
  FakeProvider p;
  allm::GenerateRequest r;
  r.prompt = "what should I remember?";
  r.files = {file("notes.txt")};
  auto prepared = p.prepare(r);
  ASSERT_EQ(prepared.messages.size(), 1u);
  EXPECT_EQ(prepared.messages[0].content,
            "--- file: notes.txt ---\nremember the milk\n--- end of file: notes.txt ---\n\nwhat should I remember?");
  EXPECT_TRUE(prepared.messages[0].attachments.empty());
}

TEST_F(Attachments, RequestFilesJoinTheLastUserTurn) {
  FakeProvider p;
  allm::GenerateRequest r;
  r.messages = {{"user", "first", {}}, {"assistant", "ok", {}}, {"user", "second", {}}, {"assistant", "partial", {}}};
  r.files = {file("notes.txt")};
  auto prepared = p.prepare(r);
  EXPECT_EQ(prepared.messages[0].content, "first");
  EXPECT_NE(prepared.messages[2].content.find("remember the milk"), std::string::npos);
}

TEST_F(Attachments, ImageWithoutVisionIsRefused) {
  FakeProvider p;  // no vision
  allm::GenerateRequest r;
  r.prompt = "describe";
  r.files = {file("photo.img")};
  try {
    p.generate(r);
    FAIL() << "expected MediaError";
  } catch (const allm::MediaError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("photo.img: this model does not support images"), std::string::npos) << m;
  }
  EXPECT_EQ(p.calls, 0);
  EXPECT_EQ(image_.decoded, 0) << "the image was decoded before the model's vision support was checked";
}

TEST_F(Attachments, ImageWithVisionIsPassedAlong) {
  FakeOptions o;
  o.vision = true;
  FakeProvider p(o);
  allm::GenerateRequest r;
  r.messages = {{"user", "look", {file("photo.img")}}};
  p.generate(r);
  ASSERT_EQ(p.last_request.images.size(), 1u);
  EXPECT_EQ(p.last_request.images[0].message_index, 0u);
  EXPECT_EQ(p.last_request.images[0].media.image.pixels, std::vector<uint8_t>{128});
  EXPECT_EQ(p.last_request.messages[0].content, "look");
  EXPECT_EQ(image_.decoded, 1);
}

TEST_F(Attachments, LimitsComeFromTheProvider) {
  allm::MediaLimits limits;
  limits.max_file_bytes = 50;
  FakeProvider p({}, limits);
  allm::GenerateRequest r;
  r.prompt = "x";
  r.files = {file("big.txt")};
  EXPECT_THROW(p.generate(r), allm::MediaError);
}

TEST_F(Attachments, UnknownTypeListsTheHandlers) {
  write("data.xyz", "?");
  FakeProvider p;
  allm::GenerateRequest r;
  r.prompt = "x";
  r.files = {file("data.xyz")};
  try {
    p.generate(r);
    FAIL();
  } catch (const allm::MediaError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("text — test text (.txt)"), std::string::npos) << m;
    EXPECT_NE(m.find("image — test image (.img)"), std::string::npos) << m;
  }
}

TEST(RequireVision, OnlyImagesNeedIt) {
  allm::Capabilities caps;
  caps.model = "m";
  allm::MediaContent text;
  EXPECT_NO_THROW(allm::require_vision(caps, text));
  allm::MediaContent img;
  img.kind = allm::MediaKind::image;
  img.source = "a.png";
  EXPECT_THROW(allm::require_vision(caps, img), allm::MediaError);
  caps.vision = true;
  EXPECT_NO_THROW(allm::require_vision(caps, img));
}
