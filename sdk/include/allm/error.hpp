#pragma once
// The typed error family. Every error names its place (file, tensor, JSON path,
// template line/column) in its message; the CLI maps `code()` to an exit status.
#include <stdexcept>
#include <string>

namespace allm {

// Exit codes of the CLI, one per error kind (documented in docs/cli.md).
enum class ErrorCode : int {
  invalid_argument = 2,
  config = 3,
  plugin_load = 4,
  model_load = 5,
  unsupported = 6,
  context_window = 7,
  tokenizer = 8,
  template_error = 9,
  io = 10,
  media = 11,
  out_of_memory = 12,
  cancelled = 13,
  internal = 70,
};

const char* error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

#define ALLM_DEFINE_ERROR(Name, Code)                                              \
  class Name : public Error {                                                      \
   public:                                                                         \
    explicit Name(const std::string& message) : Error(ErrorCode::Code, message) {} \
  };

ALLM_DEFINE_ERROR(InvalidArgumentError, invalid_argument)
ALLM_DEFINE_ERROR(ConfigError, config)
ALLM_DEFINE_ERROR(PluginLoadError, plugin_load)
ALLM_DEFINE_ERROR(ModelLoadError, model_load)
ALLM_DEFINE_ERROR(UnsupportedError, unsupported)
ALLM_DEFINE_ERROR(ContextWindowError, context_window)
ALLM_DEFINE_ERROR(TokenizerError, tokenizer)
ALLM_DEFINE_ERROR(TemplateError, template_error)
ALLM_DEFINE_ERROR(IoError, io)
ALLM_DEFINE_ERROR(MediaError, media)
ALLM_DEFINE_ERROR(OutOfMemoryError, out_of_memory)
ALLM_DEFINE_ERROR(CancelledError, cancelled)

#undef ALLM_DEFINE_ERROR

}  // namespace allm
