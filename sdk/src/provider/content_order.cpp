// Where attachments go in a turn's text: llama.cpp's media marker in typed
// text, and a turn cut into text and attachments in order.
#include "allm/provider.hpp"

namespace allm {

MarkedText split_media_markers(const std::string& text) {
  const std::string marker = kMediaMarker;
  MarkedText out;
  size_t at = 0;
  for (size_t hit; (hit = text.find(marker, at)) != std::string::npos; at = hit + marker.size()) {
    out.text.append(text, at, hit - at);
    out.offsets.push_back(out.text.size());
  }
  out.text.append(text, at, std::string::npos);
  return out;
}

std::vector<ContentPiece> content_pieces(const std::string& text, const std::vector<size_t>& offsets) {
  std::vector<ContentPiece> out;
  size_t at = 0;
  for (size_t k = 0; k < offsets.size(); ++k) {
    const size_t to = std::min(std::max(offsets[k], at), text.size());
    if (to > at) out.push_back({text.substr(at, to - at), std::nullopt});
    out.push_back({"", k});
    at = to;
  }
  if (at < text.size()) out.push_back({text.substr(at), std::nullopt});
  return out;
}

}  // namespace allm
