// load_attachment: the checks before any handler, and handler selection.
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "image_handler.hpp"
#include "media_fixtures.hpp"
#include "pdf_handler.hpp"
#include "text_handler.hpp"

using namespace media_test;
using allm::MediaError;

namespace {

const allm::media::TextHandler text;
const allm::media::ImageHandler image;
const allm::media::PdfHandler pdf;
const std::vector<allm::NamedMediaHandler> all = {{"text", &text}, {"image", &image}, {"pdf", &pdf}};

std::string error_of(const std::filesystem::path& p, allm::MediaLimits limits = {},
                     const std::vector<allm::NamedMediaHandler>& handlers = all) {
  try {
    allm::load_attachment(p, limits, handlers);
  } catch (const MediaError& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(LoadAttachment, PicksTheRightHandlerPerKind) {
  EXPECT_EQ(allm::load_attachment(data("notes.md"), {}, all).handler, "text");
  EXPECT_EQ(allm::load_attachment(data("notes.custom"), {}, all).handler, "text");
  EXPECT_EQ(allm::load_attachment(data("pixels.png"), {}, all).handler, "image");
  EXPECT_EQ(allm::load_attachment(data("solid.jpg"), {}, all).handler, "image");
  auto doc = allm::load_attachment(data("two_pages.pdf"), {}, all);
  EXPECT_EQ(doc.handler, "pdf");
  EXPECT_EQ(doc.source, data("two_pages.pdf"));
}

TEST(LoadAttachment, MissingFile) {
  auto m = error_of(data("does_not_exist.txt"));
  EXPECT_TRUE(contains(m, "does_not_exist.txt: cannot attach: no such file")) << m;
}

TEST(LoadAttachment, Directory) {
  auto m = error_of(data(""));
  EXPECT_TRUE(contains(m, "is a directory")) << m;
}

TEST(LoadAttachment, EmptyFile) {
  auto m = error_of(data("empty.txt"));
  EXPECT_TRUE(contains(m, "empty.txt: cannot attach: the file is empty")) << m;
}

TEST(LoadAttachment, OversizedFileNamesTheLimitAndKey) {
  allm::MediaLimits small;
  small.max_file_bytes = 16;
  auto m = error_of(data("notes.md"), small);
  EXPECT_TRUE(contains(m, "notes.md: cannot attach: the file is 31 bytes, over the limit of 16 bytes")) << m;
  EXPECT_TRUE(contains(m, "media.max_file_bytes")) << m;
}

TEST(LoadAttachment, BinaryFileNobodyHandlesListsHandlers) {
  auto m = error_of(data("blob.bin"));
  EXPECT_TRUE(contains(m, "blob.bin: binary file of a type no media handler accepts")) << m;
  EXPECT_TRUE(contains(m, "text — text (")) << m;
  EXPECT_TRUE(contains(m, "image — image (.png")) << m;
  EXPECT_TRUE(contains(m, "pdf — pdf (.pdf")) << m;
}

TEST(LoadAttachment, UnhandledTextTypeListsHandlers) {
  // Only the image handler is offered: a Markdown file has no taker.
  auto m = error_of(data("notes.md"), {}, {{"image", &image}});
  EXPECT_TRUE(contains(m, "notes.md: no media handler accepts this file type (registered handlers: image")) << m;
}

TEST(LoadAttachment, NoHandlersAtAll) {
  auto m = error_of(data("notes.md"), {}, {});
  EXPECT_TRUE(contains(m, "no media handlers are registered")) << m;
}

TEST(LoadAttachment, HandlerErrorsPassThrough) {
  EXPECT_TRUE(contains(error_of(data("encrypted.pdf")), "encrypted PDF"));
  EXPECT_TRUE(contains(error_of(data("latin1.txt")), "not UTF-8 text"));
}

TEST(MediaLimits, ReadsConfig) {
  EXPECT_EQ(allm::MediaLimits::from_config({{"media", {{"max_file_bytes", 123}}}}).max_file_bytes, 123u);
  EXPECT_EQ(allm::MediaLimits::from_config(nlohmann::json::object()).max_file_bytes, 10u * 1024 * 1024);
  EXPECT_THROW(allm::MediaLimits::from_config({{"media", {{"max_file_bytes", -1}}}}), allm::ConfigError);
  EXPECT_THROW(allm::MediaLimits::from_config({{"media", {{"max_file_bytes", "big"}}}}), allm::ConfigError);
}

TEST(FormatTextAttachment, AddsFinalNewline) {
  EXPECT_EQ(allm::format_text_attachment("a.txt", "x"), "--- file: a.txt ---\nx\n--- end of file: a.txt ---\n");
}

namespace {

// A handler with a bug: it throws a non-allm exception from one of its calls.
class ThrowingHandler : public allm::MediaHandler {
 public:
  explicit ThrowingHandler(bool in_score) : in_score_(in_score) {}
  std::string describe() const override { return "throws"; }
  allm::MediaKind kind() const override { return allm::MediaKind::text; }
  int score(const std::filesystem::path&, std::span<const uint8_t>) const override {
    if (in_score_) throw std::out_of_range("vector::at out of range");
    return 1000;
  }
  allm::MediaContent load(const std::filesystem::path&, std::span<const uint8_t>) const override {
    throw std::runtime_error("null row pointer");
  }

 private:
  bool in_score_;
};

}  // namespace

TEST(LoadAttachment, AHandlerThatThrowsIsNamedWithItsPlugin) {
  const ThrowingHandler in_score(true), in_load(false);
  auto m = error_of(data("notes.md"), {}, {{"text", &text, "", ""}, {"buggy", &in_score, "buggy-plugin", "/p/buggy.so"}});
  EXPECT_TRUE(contains(m, "notes.md: media handler 'buggy' (plugin 'buggy-plugin', /p/buggy.so) threw in score(): "
                          "vector::at out of range")) << m;
  m = error_of(data("notes.md"), {}, {{"text", &text, "", ""}, {"buggy", &in_load, "buggy-plugin", "/p/buggy.so"}});
  EXPECT_TRUE(contains(m, "media handler 'buggy' (plugin 'buggy-plugin', /p/buggy.so) threw in load(): null row pointer"))
      << m;
}
