// Plugin entry: registers the PDF media handler as "pdf".
#include "allm/plugin.hpp"
#include "pdf_handler.hpp"

static allm::media::PdfHandler pdf_handler;
static const allm::Component components[] = {allm::media_handler_component("pdf", 100, pdf_handler)};
ALLM_DEFINE_PLUGIN("media-pdf", "1.0.0", "Attach PDF files as text, page by page", components)
