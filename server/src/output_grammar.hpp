#pragma once
// Constrained output over HTTP: each API's way of asking for JSON, a schema or
// a grammar, read into the one GenerateRequest.grammar (docs/structured-output.md).
// The grammar is compiled here, before the request is queued, so a schema or
// grammar the engine cannot honour is a 400 naming the field and the compiler's
// keyword/pointer or position — never a reply that silently ignores it.
#include <optional>
#include <string_view>

#include "allm/provider.hpp"
#include "json_fields.hpp"

namespace allm::server {

// OpenAI `response_format` ({"type":"text"|"json_object"|"json_schema"}) and
// llama.cpp's `grammar` (GBNF text) and `json_schema` (a schema object); at
// most one of them. None of them (or type "text"): nullopt. `raw_body` is the
// text `body` was parsed from: schemas are taken from it with their keys in
// the client's order (properties are generated in schema order).
std::optional<OutputGrammar> openai_output_grammar(const json& body, std::string_view raw_body);

// Ollama `format`: "json" (any JSON object) or a JSON Schema object; "" or
// absent: nullopt.
std::optional<OutputGrammar> ollama_output_grammar(const json& body, std::string_view raw_body);

}  // namespace allm::server
