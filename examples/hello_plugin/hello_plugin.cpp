// A minimal media-handler plugin: attaches `.hello` files as text.
// Shows the whole plugin contract: implement an SDK interface (here
// allm::MediaHandler), list it in a typed component table, export the
// descriptor with ALLM_DEFINE_PLUGIN.
#include <string>

#include "allm/error.hpp"
#include "allm/media.hpp"
#include "allm/plugin.hpp"

namespace {

class HelloHandler final : public allm::MediaHandler {
 public:
  std::string describe() const override { return "hello (.hello files as UTF-8 text)"; }
  allm::MediaKind kind() const override { return allm::MediaKind::text; }

  // 50 = a known extension (the convention in allm/media.hpp); 0 = not ours,
  // so every other file still goes to the handler that fits it.
  int score(const std::filesystem::path& path, std::span<const uint8_t>) const override {
    return allm::lower_extension(path) == "hello" ? 50 : 0;
  }

  allm::MediaContent load(const std::filesystem::path& path, std::span<const uint8_t> bytes) const override {
    const size_t bad = allm::find_non_text_byte(bytes);
    if (bad != std::string::npos)
      throw allm::MediaError(path.string() + ": not UTF-8 text (byte offset " + std::to_string(bad) + ")");
    allm::MediaContent content;
    content.kind = allm::MediaKind::text;
    content.name = path.filename().string();
    content.mime = "text/plain";
    content.text = allm::format_text_attachment(
        content.name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    return content;
  }
};

HelloHandler handler;

// The typed helper only accepts an allm::MediaHandler: registering anything
// else as a media handler does not compile.
const allm::Component components[] = {
    allm::media_handler_component("hello", /*score=*/10, handler),
};

}  // namespace

ALLM_DEFINE_PLUGIN("hello", "1.0.0", "Example plugin built out of tree against the allm SDK", components)
