#include "model_choice.hpp"

#include "allm/error.hpp"
#include "allm/registry.hpp"
#include "bundled_models.hpp"
#include "context.hpp"
#include "generation_cli.hpp"

namespace allm::cli {

namespace {

// PROVIDER when `spec` is PROVIDER:MODEL for a registered provider, else "".
std::string registered_prefix(const std::string& spec) {
  const size_t colon = spec.find(':');
  if (colon == std::string::npos || colon == 0) return "";
  const std::string prefix = spec.substr(0, colon);
  if (prefix == "local") return "";
  host().plugins();
  return Registry::instance().provider(prefix) ? prefix : "";
}

}  // namespace

const ResolvedModel& ModelChoice::local_model(const std::string& command) const {
  if (!local)
    throw UnsupportedError(command + " runs the local engine; '" + spec + "' is a model of the remote provider '" +
                           remote + "'");
  return *local;
}

ModelChoice choose_model(const std::string& typed) {
  ModelChoice c;
  c.spec = bundled_model(typed).value_or(typed);
  try {
    c.local = resolve_model(c.spec);
  } catch (const Error&) {
    c.remote = registered_prefix(c.spec);
    if (c.remote.empty()) throw;
  }
  return c;
}

std::optional<ModelChoice> model_named_by(const std::string& text) {
  if (text.empty() || text == "-") return std::nullopt;
  ModelChoice c;
  c.spec = bundled_model(text).value_or(text);
  try {
    c.local = resolve_model(c.spec);
    return c;
  } catch (const Error&) {
  }
  if (text.find_first_of(" \t\n") != std::string::npos) return std::nullopt;
  c.remote = registered_prefix(c.spec);
  if (c.remote.empty()) return std::nullopt;
  return c;
}

ModelChoice default_model() { return choose_model(default_model_spec()); }

void add_model_options(const ModelChoice& choice, nlohmann::json& options) {
  options["model"] = choice.spec;
  options["resolved"] = resolved_model_to_json(choice.local_model("the local provider"));
}

}  // namespace allm::cli
