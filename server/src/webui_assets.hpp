#pragma once
// The chat page's files (server/webui/), compiled into allm by
// cmake/EmbedWebui.cmake: path relative to server/webui/, content type, bytes.
#include <string_view>
#include <vector>

namespace allm::server {

struct WebAsset {
  std::string_view path;  // "index.html", "js/app.js"
  std::string_view content_type;
  std::string_view body;
};

const std::vector<WebAsset>& webui_assets();

}  // namespace allm::server
