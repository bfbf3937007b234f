#include "api_error.hpp"

#include <nlohmann/json.hpp>

#include "allm/error.hpp"

namespace allm::server {

ApiError to_api_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const ApiError& a) {
    return a;
  } catch (const Error& a) {
    switch (a.code()) {
      case ErrorCode::invalid_argument:
      case ErrorCode::context_window:
      case ErrorCode::template_error:
      case ErrorCode::tokenizer:
      case ErrorCode::media:
        return bad_request(a.what());
      case ErrorCode::unsupported:
        return ApiError(400, "unsupported", a.what());
      case ErrorCode::model_load:
        return ApiError(500, "internal", std::string("model load failed: ") + a.what());
      case ErrorCode::out_of_memory:
        return ApiError(503, "overloaded", a.what());
      default:
        return ApiError(500, "internal", a.what());
    }
  } catch (const nlohmann::json::exception& j) {
    return bad_request(std::string("invalid request: ") + j.what());
  } catch (const std::exception& x) {
    return ApiError(500, "internal", x.what());
  } catch (...) {
    return ApiError(500, "internal", "unknown error");
  }
}

ApiFlavor flavor_of_path(const std::string& path) {
  if (path.rfind("/v1/messages", 0) == 0) return ApiFlavor::anthropic;
  if (path.rfind("/api/", 0) == 0) return ApiFlavor::ollama;
  return ApiFlavor::openai;
}

namespace {

std::string openai_type(const ApiError& e) {
  if (e.kind == "authentication") return "authentication_error";
  if (e.kind == "not_found") return "invalid_request_error";
  if (e.kind == "overloaded") return "server_error";
  if (e.kind == "internal") return "server_error";
  return "invalid_request_error";
}

std::string openai_code(const ApiError& e) {
  if (e.kind == "authentication") return "invalid_api_key";
  if (e.kind == "not_found") return "model_not_found";
  if (e.kind == "too_large") return "request_too_large";
  if (e.kind == "overloaded") return "server_overloaded";
  if (e.kind == "unsupported") return "unsupported_parameter";
  return "";
}

std::string anthropic_type(const ApiError& e) {
  if (e.kind == "authentication") return "authentication_error";
  if (e.kind == "not_found") return "not_found_error";
  if (e.kind == "too_large") return "request_too_large";
  if (e.kind == "overloaded") return "overloaded_error";
  if (e.kind == "internal") return "api_error";
  return "invalid_request_error";
}

}  // namespace

std::string error_body(ApiFlavor flavor, const ApiError& e) {
  using nlohmann::json;
  // Messages quote what the client sent (a model name, the bytes around a
  // JSON syntax error), which need not be UTF-8: a plain dump() would throw
  // while answering the error, out of the router, and end the server
  // (found by fuzz_server_request). Bad bytes become U+FFFD.
  const auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  switch (flavor) {
    case ApiFlavor::anthropic:
      return dump(json{{"type", "error"}, {"error", {{"type", anthropic_type(e)}, {"message", e.message}}}});
    case ApiFlavor::ollama:
      return dump(json{{"error", e.message}});
    case ApiFlavor::openai:
    default: {
      const std::string code = openai_code(e);
      return dump(json{{"error",
                        {{"message", e.message},
                         {"type", openai_type(e)},
                         {"param", e.param.empty() ? json(nullptr) : json(e.param)},
                         {"code", code.empty() ? json(nullptr) : json(code)}}}});
    }
  }
}

}  // namespace allm::server
