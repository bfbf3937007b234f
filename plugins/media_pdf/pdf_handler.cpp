#include "pdf_handler.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include "allm/error.hpp"
#include "allm/log.hpp"

namespace allm::media {

namespace {

bool has_pdf_signature(std::span<const uint8_t> b) {
  const size_t n = std::min<size_t>(b.size(), 1024);
  static const char sig[] = "%PDF-";
  for (size_t i = 0; i + 5 <= n; ++i)
    if (std::memcmp(b.data() + i, sig, 5) == 0) return true;
  return false;
}

// Poppler prints its parser complaints to stderr by default; they belong in the log.
void route_poppler_messages(const std::string& message, void*) { allm::log().debug("poppler: {}", message); }

}  // namespace

PdfHandler::PdfHandler() { poppler::set_debug_error_function(route_poppler_messages, nullptr); }

std::string PdfHandler::describe() const { return "pdf (.pdf, the text of each page)"; }

int PdfHandler::score(const std::filesystem::path& path, std::span<const uint8_t> head) const {
  if (has_pdf_signature(head)) return 100;
  return lower_extension(path) == "pdf" ? 50 : 0;
}

MediaContent PdfHandler::load(const std::filesystem::path& path, std::span<const uint8_t> bytes) const {
  const std::string where = path.string() + ": ";
  if (!has_pdf_signature(bytes)) throw MediaError(where + "not a PDF (no %PDF- header in the first 1024 bytes)");
  if (bytes.size() > static_cast<size_t>(INT_MAX)) throw MediaError(where + "PDF too large to read");

  std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(
      reinterpret_cast<const char*>(bytes.data()), static_cast<int>(bytes.size())));
  if (!doc) throw MediaError(where + "corrupt or truncated PDF (poppler could not parse it)");
  if (doc->is_locked())
    throw MediaError(where + "encrypted PDF: it needs a password to open; decrypt it first (e.g. qpdf --decrypt)");

  const int pages = doc->pages();
  std::string body;
  bool any_text = false;
  for (int i = 0; i < pages; ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    body += "--- page " + std::to_string(i + 1) + " ---\n";
    if (!page) continue;
    poppler::byte_array utf8 = page->text().to_utf8();
    std::string text(utf8.begin(), utf8.end());
    // Pages end with a form feed or trailing blanks; keep one newline.
    while (!text.empty() && (text.back() == '\n' || text.back() == '\f' || text.back() == ' ' || text.back() == '\r'))
      text.pop_back();
    if (text.find_first_not_of(" \t\r\n\f") != std::string::npos) any_text = true;
    if (!text.empty()) body += text + "\n";
  }
  if (pages == 0) throw MediaError(where + "PDF has no pages");
  if (!any_text)
    throw MediaError(where + "PDF has no extractable text (" + std::to_string(pages) +
                     " page(s); scanned images need OCR first)");

  MediaContent out;
  out.kind = MediaKind::text;
  out.name = path.filename().string();
  out.source = path;
  out.mime = "application/pdf";
  out.text = format_text_attachment(out.name, body);
  return out;
}

}  // namespace allm::media
