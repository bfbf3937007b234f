// Maps the model's `type` tag to its implementation. Old files may omit the
// tag; then the fields tell (merges -> BPE).
#include "model.hpp"

namespace allm::hf {

ModelPtr make_model(const JsonNode& node) {
  std::string type;
  if (node.has("type"))
    type = node.type();
  else if (node.has("merges"))
    type = "BPE";
  else if (node.has("max_input_chars_per_word"))
    type = "WordPiece";
  else
    node.fail("model has no 'type' and its fields do not identify one");
  if (type == "BPE") return make_bpe_model(node);
  if (type == "WordPiece") return make_wordpiece_model(node);
  node.at("type").fail("unknown model type '" + type + "'");
}

}  // namespace allm::hf
