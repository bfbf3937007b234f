// ChatSession: history, send, and the on-disk form (JSON + optional cache blob).
#include "allm/json_depth.hpp"
#include "allm/provider/session.hpp"

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "allm/error.hpp"
#include "allm/log.hpp"

namespace allm {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "allm-session";
constexpr int kVersion = 1;

std::string fnv1a64_hex(const std::vector<uint8_t>& data) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : data) {
    h ^= b;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Writes through a temporary file so a crash never leaves a half-written session.
void write_file_atomically(const fs::path& path, const char* data, size_t size) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(tmp.string() + ": cannot open for writing: " + std::strerror(errno));
    out.write(data, static_cast<std::streamsize>(size));
    out.flush();
    if (!out) throw IoError(tmp.string() + ": write failed");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw IoError(path.string() + ": cannot replace file: " + ec.message());
}

std::vector<uint8_t> read_binary(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string() + ": cannot open: " + std::strerror(errno));
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

fs::path cache_path_for(const fs::path& session_path) {
  fs::path p = session_path;
  p += ".kv";
  return p;
}

}  // namespace

ChatSession::ChatSession(std::shared_ptr<Provider> provider, SessionOptions options)
    : provider_(std::move(provider)), options_(std::move(options)) {
  if (!provider_) throw InvalidArgumentError("ChatSession: provider is null");
  options_.params.validate("session.params");
}

GenerateResponse ChatSession::send(const std::string& text, std::vector<fs::path> attachments,
                                   const StreamCallback& on_delta, CancellationToken cancel) {
  return send(Message("user", text, std::move(attachments)), on_delta, cancel);
}

GenerateResponse ChatSession::send(Message turn, const StreamCallback& on_delta, CancellationToken cancel) {
  if (turn.role != "user") throw InvalidArgumentError("ChatSession::send: the turn's role must be user, got '" + turn.role + "'");
  GenerateRequest request;
  request.messages = history_;
  request.messages.push_back(std::move(turn));
  request.system_prompt = options_.system_prompt;
  request.params = options_.params;
  request.truncation = options_.truncation;
  GenerateResponse response = on_delta ? provider_->generate(request, on_delta, cancel)
                                       : provider_->generate(request, cancel);
  // A cancelled turn that produced nothing leaves no trace.
  if (response.finish_reason == finish_reason::cancelled && response.text.empty()) return response;
  history_.push_back(std::move(request.messages.back()));
  history_.push_back({"assistant", response.text, {}});
  return response;
}

void ChatSession::save(const fs::path& path) const {
  json j = {{"format", kFormat}, {"version", kVersion}};
  json opts = {{"params", options_.params.to_json()}, {"truncation", truncation_policy_name(options_.truncation)}};
  if (options_.system_prompt) opts["system_prompt"] = *options_.system_prompt;
  j["options"] = opts;
  j["messages"] = json::array();
  for (auto& m : history_) j["messages"].push_back(m.to_json());

  const fs::path kv = cache_path_for(path);
  if (auto state = provider_->save_cache_state()) {
    write_file_atomically(kv, reinterpret_cast<const char*>(state->data.data()), state->data.size());
    j["cache_state"] = {{"file", kv.filename().string()},
                        {"model_fingerprint", state->model_fingerprint},
                        {"bytes", state->data.size()},
                        {"fnv1a64", fnv1a64_hex(state->data)}};
  } else {
    std::error_code ec;
    fs::remove(kv, ec);  // a stale blob from an earlier save must not be picked up
  }
  std::string text = j.dump(2) + "\n";
  write_file_atomically(path, text.data(), text.size());
}

ChatSession ChatSession::load(std::shared_ptr<Provider> provider, const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path.string() + ": cannot open session file: " + std::strerror(errno));
  json j;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (std::string depth = json_depth_error(text); !depth.empty()) throw IoError(path.string() + ": " + depth);
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw IoError(path.string() + ": not valid JSON (byte " + std::to_string(e.byte) + ")");
  }
  const std::string where = path.string() + ": ";
  auto format = j.is_object() ? j.find("format") : j.end();
  if (!j.is_object() || format == j.end() || !format->is_string() || format->get<std::string>() != kFormat)
    throw IoError(where + "not an allm session (expected \"format\": \"allm-session\")");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != kVersion)
    throw IoError(where + "version: unsupported session version (this build reads version 1)");

  SessionOptions options;
  try {
    if (auto it = j.find("options"); it != j.end()) {
      if (!it->is_object()) throw InvalidArgumentError("options: expected an object");
      if (auto sp = it->find("system_prompt"); sp != it->end()) {
        if (!sp->is_string()) throw InvalidArgumentError("options.system_prompt: expected a string");
        options.system_prompt = sp->get<std::string>();
      }
      if (auto p = it->find("params"); p != it->end()) options.params = GenerationParams::from_json(*p, "options.params");
      if (auto t = it->find("truncation"); t != it->end()) {
        if (!t->is_string()) throw InvalidArgumentError("options.truncation: expected a string");
        options.truncation = truncation_policy_from_name(t->get<std::string>());
      }
    }
  } catch (const InvalidArgumentError& e) {
    throw IoError(where + e.what());
  }

  ChatSession session(provider, options);
  auto msgs = j.find("messages");
  if (msgs == j.end() || !msgs->is_array()) throw IoError(where + "messages: expected an array");
  for (size_t i = 0; i < msgs->size(); ++i) {
    try {
      session.history_.push_back(Message::from_json((*msgs)[i], "messages[" + std::to_string(i) + "]"));
    } catch (const InvalidArgumentError& e) {
      throw IoError(where + e.what());
    }
  }

  auto cs = j.find("cache_state");
  if (cs == j.end()) return session;
  if (!cs->is_object() || !cs->value("file", json()).is_string() || !cs->value("model_fingerprint", json()).is_string() ||
      !cs->value("fnv1a64", json()).is_string())
    throw IoError(where + "cache_state: expected {file, model_fingerprint, bytes, fnv1a64}");
  const std::string fingerprint = (*cs)["model_fingerprint"].get<std::string>();
  if (fingerprint.empty() || fingerprint != provider->model_fingerprint()) {
    log().info("{}: cache state belongs to model '{}', not the loaded '{}'; restoring history only", path.string(),
               fingerprint, provider->model_fingerprint());
    return session;
  }
  const fs::path kv = path.parent_path() / (*cs)["file"].get<std::string>();
  std::error_code ec;
  if (!fs::is_regular_file(kv, ec)) {
    log().warn("{}: cache state file {} is missing; restoring history only", path.string(), kv.string());
    return session;
  }
  CacheState state{fingerprint, read_binary(kv)};
  if (fnv1a64_hex(state.data) != (*cs)["fnv1a64"].get<std::string>()) {
    log().warn("{}: cache state file {} fails its checksum; restoring history only", path.string(), kv.string());
    return session;
  }
  session.cache_restored_ = provider->restore_cache_state(state);
  return session;
}

}  // namespace allm
