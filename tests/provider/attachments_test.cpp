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

TEST_F(Attachments, PlacedFilesKeepTheirPlaceInTheText) {
  FakeOptions o;
  o.vision = true;
  FakeProvider p(o);
  allm::GenerateRequest r;
  // "Compare" IMG "and" notes.txt IMG "?": the text file's text goes in its
  // place, the images after it move by its length.
  r.messages = {{"user", "Compare and?", {file("photo.img"), file("notes.txt"), file("photo.img")}}};
  r.messages[0].attachment_offsets = {7, 11, 11};
  p.generate(r);
  const std::string note = "--- file: notes.txt ---\nremember the milk\n--- end of file: notes.txt ---\n";
  EXPECT_EQ(p.last_request.messages[0].content, "Compare and" + note + "?");
  ASSERT_EQ(p.last_request.images.size(), 2u);
  EXPECT_EQ(p.last_request.images[0].offset, 7u);
  EXPECT_EQ(p.last_request.images[1].offset, 11u + note.size());
}

TEST_F(Attachments, FileOffsetsPlaceTheRequestsFiles) {
  FakeOptions o;
  o.vision = true;
  FakeProvider p(o);
  allm::GenerateRequest r;
  r.prompt = "What is this?";
  r.files = {file("photo.img")};
  r.file_offsets = {13};
  p.generate(r);
  ASSERT_EQ(p.last_request.images.size(), 1u);
  EXPECT_EQ(p.last_request.images[0].offset, 13u);
  r.file_offsets = {14};  // past the end
  EXPECT_THROW(p.generate(r), allm::InvalidArgumentError);
  r.file_offsets = {1, 2};  // two places for one file
  EXPECT_THROW(p.generate(r), allm::InvalidArgumentError);
}

TEST_F(Attachments, BadOffsetsAreRefusedNamingTheField) {
  allm::GenerateRequest r;
  r.messages = {{"user", "h\xc3\xa9llo", {file("photo.img"), file("photo.img")}}};
  auto error_of = [&](std::vector<size_t> offsets) {
    r.messages[0].attachment_offsets = std::move(offsets);
    try {
      r.validate();
    } catch (const allm::InvalidArgumentError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error_of({0, 6}), "accepted");
  EXPECT_NE(error_of({3, 1}).find("request.messages[0].attachment_offsets[1]: offsets must not decrease"),
            std::string::npos);
  EXPECT_NE(error_of({2, 2}).find("attachment_offsets[0]: offset 2 is inside a UTF-8 character"), std::string::npos);
  EXPECT_NE(error_of({0, 7}).find("offset 7 is past the text's end (6 bytes)"), std::string::npos);
  EXPECT_NE(error_of({0}).find("1 offsets for 2 attached file(s)"), std::string::npos);
  // A saved message keeps its offsets.
  r.messages[0].attachment_offsets = {1, 6};
  EXPECT_EQ(allm::Message::from_json(r.messages[0].to_json()).attachment_offsets, (std::vector<size_t>{1, 6}));
}

TEST(MediaMarkers, EachMarkerIsAPlace) {
  const allm::MarkedText m = allm::split_media_markers("<__media__>Compare<__media__>and<__media__>");
  EXPECT_EQ(m.text, "Compareand");
  EXPECT_EQ(m.offsets, (std::vector<size_t>{0, 7, 10}));
  EXPECT_TRUE(allm::split_media_markers("no <__media_ marker").offsets.empty());
}

TEST(ContentPieces, TextAndAttachmentsInOrder) {
  auto pieces = allm::content_pieces("Compareand?", {7, 10, 10});
  ASSERT_EQ(pieces.size(), 6u);
  EXPECT_EQ(pieces[0].text, "Compare");
  EXPECT_EQ(pieces[1].attachment, 0u);
  EXPECT_EQ(pieces[2].text, "and");
  EXPECT_EQ(pieces[3].attachment, 1u);
  EXPECT_EQ(pieces[4].attachment, 2u);
  EXPECT_EQ(pieces[5].text, "?");
  auto first = allm::content_pieces("Describe.", {0});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].attachment, 0u);
  EXPECT_EQ(first[1].text, "Describe.");
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
