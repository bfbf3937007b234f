#include "output_grammar.hpp"

#include "allm/error.hpp"
#include "allm/grammar.hpp"
#include "api_error.hpp"

namespace allm::server {

namespace {

// "Any JSON object": what OpenAI's json_object mode and Ollama's "json" promise.
const char* const any_object_schema = R"({"type":"object"})";

// Compiles `g` now; an error becomes a 400 saying which field held it.
OutputGrammar checked(OutputGrammar g, const std::string& where, const std::string& param) {
  try {
    grammar::compile(g.kind, g.source);
  } catch (const InvalidArgumentError& e) {
    throw bad_request(where + ": " + e.what(), param);
  }
  return g;
}

// The schema at `pointer` in the request body, its keys in the order the
// client wrote them (the parsed body, a json, sorts them).
OutputGrammar schema_grammar(const json& schema, std::string_view raw_body, const char* pointer,
                             const std::string& where, const std::string& param) {
  if (!schema.is_object() && !schema.is_boolean())
    throw bad_request(where + " must be a JSON Schema (an object)", param);
  // The body parsed once already (within the nesting limit): this cannot fail.
  const auto ordered = nlohmann::ordered_json::parse(raw_body.begin(), raw_body.end());
  const std::string text = ordered.at(nlohmann::ordered_json::json_pointer(pointer)).dump();
  return checked(OutputGrammar{"json_schema", text}, where, param);
}

bool present(const json& body, const char* key) { return body.contains(key) && !body[key].is_null(); }

std::optional<OutputGrammar> response_format(const json& rf, std::string_view raw_body) {
  if (!rf.is_object()) throw bad_request("'response_format' must be an object", "response_format");
  auto type = opt_string(rf, "type");
  if (!type) throw bad_request("response_format.type is required", "response_format");
  if (*type == "text") return std::nullopt;
  if (*type == "json_object") {
    // llama.cpp also reads a schema here: {"type":"json_object","schema":{...}}.
    if (present(rf, "schema")) return schema_grammar(rf["schema"], raw_body, "/response_format/schema", "response_format.schema",
                            "response_format");
    return OutputGrammar{"json_schema", any_object_schema};
  }
  if (*type == "json_schema") {
    const json* js = opt_object(rf, "json_schema");
    if (!js) throw bad_request("response_format.json_schema is required when type is 'json_schema'", "response_format");
    opt_string(*js, "name");         // OpenAI requires it; it does not change the output
    opt_string(*js, "description");  // (type-checked only)
    opt_bool(*js, "strict");         // allm always enforces the whole schema
    // No schema: any JSON value, as OpenAI documents.
    if (!present(*js, "schema")) return OutputGrammar{"json_schema", "{}"};
    return schema_grammar((*js)["schema"], raw_body, "/response_format/json_schema/schema",
                          "response_format.json_schema.schema", "response_format");
  }
  throw bad_request("response_format.type: expected 'text', 'json_object' or 'json_schema', got '" + *type + "'",
                    "response_format");
}

}  // namespace

std::optional<OutputGrammar> openai_output_grammar(const json& body, std::string_view raw_body) {
  const bool rf = present(body, "response_format"), gbnf = present(body, "grammar"),
             schema = present(body, "json_schema");
  if (int(rf) + int(gbnf) + int(schema) > 1)
    throw bad_request("give only one of 'response_format', 'grammar' and 'json_schema'",
                      rf ? "response_format" : "grammar");
  if (rf) return response_format(body["response_format"], raw_body);
  if (gbnf) {
    auto text = opt_string(body, "grammar");
    if (text->empty()) return std::nullopt;  // llama.cpp: an empty grammar means none
    return checked(OutputGrammar{"gbnf", *text}, "grammar", "grammar");
  }
  if (schema) return schema_grammar(body["json_schema"], raw_body, "/json_schema", "json_schema", "json_schema");
  return std::nullopt;
}

std::optional<OutputGrammar> ollama_output_grammar(const json& body, std::string_view raw_body) {
  if (!present(body, "format")) return std::nullopt;
  const json& f = body["format"];
  if (f.is_string()) {
    const std::string s = f.get<std::string>();
    if (s.empty()) return std::nullopt;
    if (s == "json") return OutputGrammar{"json_schema", any_object_schema};
    throw bad_request("'format' must be \"json\" or a JSON Schema object, got \"" + s + "\"", "format");
  }
  if (f.is_object()) return schema_grammar(f, raw_body, "/format", "format", "format");
  throw bad_request("'format' must be \"json\" or a JSON Schema object", "format");
}

}  // namespace allm::server
