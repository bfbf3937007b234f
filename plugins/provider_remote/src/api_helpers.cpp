#include <fstream>
#include <sstream>

#include "allm/error.hpp"
#include "api_dialect.hpp"

namespace allm::remote {

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw MediaError(path.string() + ": cannot read the image to send it");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

nlohmann::json message_parts(const PreparedRequest& r, size_t i,
                             const std::function<nlohmann::json(const PreparedImage&)>& image_part,
                             const std::function<nlohmann::json(const std::string&)>& text_part) {
  std::vector<const PreparedImage*> images;
  std::vector<size_t> offsets;
  for (const auto& img : r.images)
    if (img.message_index == i) {
      images.push_back(&img);
      offsets.push_back(img.offset);
    }
  nlohmann::json parts = nlohmann::json::array();
  if (images.empty()) return parts;
  bool any_text = false;
  for (const ContentPiece& p : content_pieces(r.messages[i].content, offsets)) {
    parts.push_back(p.attachment ? image_part(*images[*p.attachment]) : text_part(p.text));
    any_text = any_text || !p.attachment;
  }
  if (!any_text) parts.push_back(text_part(""));  // as before: a turn of images alone still has its text part
  return parts;
}

std::string server_message(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (j.contains("error")) {
      const auto& e = j["error"];
      if (e.is_string()) return e.get<std::string>();
      if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    }
    if (j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
    if (j.contains("detail") && j["detail"].is_string()) return j["detail"].get<std::string>();
  }
  std::string s = body.substr(0, 300);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "(empty body)" : s;
}

nlohmann::json forwarded_schema(const std::string& provider, const OutputGrammar& g) {
  if (g.kind != "json_schema")
    throw UnsupportedError(provider + ": the API takes a JSON Schema for constrained output, not a " + g.kind +
                           " grammar");
  auto schema = nlohmann::json::parse(g.source, nullptr, false);
  if (schema.is_discarded()) throw InvalidArgumentError(provider + ": the output schema is not valid JSON");
  return schema;
}

nlohmann::json finished_calls(const std::string& provider, const std::vector<PendingCall>& calls, bool cut_off) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    const PendingCall& c = calls[i];
    const std::string which = provider + ": tool call " + std::to_string(i) + (c.name.empty() ? "" : " ('" + c.name + "')");
    if (c.name.empty()) throw IoError(which + ": the API sent no function name");
    auto args = c.arguments.empty() ? nlohmann::json::object() : nlohmann::json::parse(c.arguments, nullptr, false);
    // The last call of a reply cut off by max_tokens inside its arguments
    // (OpenAI and allm serve stream what was written) is no call.
    if (args.is_discarded() && cut_off && i + 1 == calls.size()) break;
    if (args.is_discarded() || !args.is_object())
      throw IoError(which + ": the arguments are not a JSON object: " + c.arguments.substr(0, 200));
    out.push_back({{"id", c.id.empty() ? "call_" + std::to_string(i) : c.id},
                   {"type", "function"},
                   {"function", {{"name", c.name}, {"arguments", std::move(args)}}}});
  }
  return out;
}

nlohmann::json call_arguments(const nlohmann::json& call, const std::string& where) {
  const nlohmann::json& f = call.contains("function") ? call["function"] : call;
  if (!f.is_object() || !f.contains("arguments")) return nlohmann::json::object();
  const nlohmann::json& a = f["arguments"];
  if (a.is_object()) return a;
  if (a.is_string()) {
    auto parsed = nlohmann::json::parse(a.get<std::string>(), nullptr, false);
    if (parsed.is_object()) return parsed;
  }
  throw InvalidArgumentError(where + ".function.arguments: expected a JSON object (or its text)");
}

nlohmann::json parse_event_json(const std::string& provider, const std::string& data) {
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw IoError(provider + ": the stream sent an event that is not a JSON object: " + data.substr(0, 200));
  return j;
}

}  // namespace allm::remote
