#include "allm/error.hpp"

namespace allm {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid argument";
    case ErrorCode::config: return "config error";
    case ErrorCode::plugin_load: return "plugin load error";
    case ErrorCode::model_load: return "model load error";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::context_window: return "context window exceeded";
    case ErrorCode::tokenizer: return "tokenizer error";
    case ErrorCode::template_error: return "template error";
    case ErrorCode::io: return "i/o error";
    case ErrorCode::media: return "media error";
    case ErrorCode::out_of_memory: return "out of memory";
    case ErrorCode::cancelled: return "cancelled";
    case ErrorCode::internal: return "internal error";
  }
  return "error";
}

}  // namespace allm
