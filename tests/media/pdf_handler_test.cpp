#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "media_fixtures.hpp"
#include "pdf_handler.hpp"

using namespace media_test;
using allm::MediaError;
using allm::media::PdfHandler;

namespace {

std::string error_of(const std::string& name) {
  try {
    load_with(PdfHandler{}, name);
  } catch (const MediaError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(PdfHandler, ExtractsTextPageByPage) {
  auto c = load_with(PdfHandler{}, "two_pages.pdf");
  EXPECT_EQ(c.kind, allm::MediaKind::text);
  EXPECT_EQ(c.mime, "application/pdf");
  EXPECT_EQ(c.text,
            "--- file: two_pages.pdf ---\n"
            "--- page 1 ---\nHello from page one.\n"
            "--- page 2 ---\nSecond page text.\n"
            "--- end of file: two_pages.pdf ---\n");
}

TEST(PdfHandler, EncryptedPdfNamesTheProblem) {
  auto m = error_of("encrypted.pdf");
  EXPECT_NE(m.find("encrypted.pdf: encrypted PDF"), std::string::npos) << m;
}

TEST(PdfHandler, CorruptPdfNamesTheProblem) {
  auto m = error_of("corrupt.pdf");
  EXPECT_NE(m.find("corrupt.pdf: corrupt or truncated PDF"), std::string::npos) << m;
}

TEST(PdfHandler, BlankPdfHasNoExtractableText) {
  auto m = error_of("no_text.pdf");
  EXPECT_NE(m.find("no_text.pdf: PDF has no extractable text"), std::string::npos) << m;
}

TEST(PdfHandler, TruncatedPdfIsAnError) {
  auto bytes = read_all(data("two_pages.pdf"));
  bytes.resize(bytes.size() / 3);
  EXPECT_THROW(PdfHandler{}.load("cut.pdf", bytes), MediaError);
}

TEST(PdfHandler, ScoresBySignature) {
  PdfHandler h;
  auto pdf = read_all(data("two_pages.pdf"));
  auto md = read_all(data("notes.md"));
  EXPECT_EQ(h.score("x.bin", pdf), 100);
  EXPECT_EQ(h.score("x.pdf", md), 50);
  EXPECT_EQ(h.score("notes.md", md), 0);
}
