// TemplateProcessing: the `single` template, e.g. [<bos>, $A], spelled out
// with the ids listed under `special_tokens`.
#include "post_processor.hpp"

namespace allm::hf {

namespace {
class TemplatePostProcessor : public PostProcessor {
 public:
  // Ids before and after the sequence.
  TemplatePostProcessor(std::vector<TokenId> before, std::vector<TokenId> after)
      : before_(std::move(before)), after_(std::move(after)) {}
  void process(std::vector<TokenId>& ids) const override {
    ids.insert(ids.begin(), before_.begin(), before_.end());
    ids.insert(ids.end(), after_.begin(), after_.end());
  }
  std::vector<TokenId> leading_ids() const override { return before_; }

 private:
  std::vector<TokenId> before_, after_;
};

// The template may be a list of pieces or, in older files, a string "<s> $A".
std::vector<std::pair<bool, std::string>> template_items(const JsonNode& single) {
  std::vector<std::pair<bool, std::string>> items;  // (is_sequence, special token name)
  if (single.is_string()) {
    std::string s = single.as_string();
    size_t pos = 0;
    while (pos < s.size()) {
      size_t end = s.find(' ', pos);
      if (end == std::string::npos) end = s.size();
      std::string word = s.substr(pos, end - pos);
      if (!word.empty()) {
        if (word[0] == '$') items.push_back({true, ""});
        else items.push_back({false, word.substr(0, word.find(':'))});
      }
      pos = end + 1;
    }
    return items;
  }
  for (size_t i = 0; i < single.size(); ++i) {
    auto item = single.at(i);
    if (auto special = item.get("SpecialToken"))
      items.push_back({false, special->at("id").as_string()});
    else if (item.get("Sequence"))
      items.push_back({true, ""});
    else
      item.fail("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
  }
  return items;
}
}  // namespace

PostProcessorPtr make_template_post_processor(const JsonNode& node) {
  auto specials = node.get("special_tokens");
  std::vector<TokenId> before, after;
  bool seen_sequence = false;
  for (auto& [is_sequence, name] : template_items(node.at("single"))) {
    if (is_sequence) {
      seen_sequence = true;
      continue;
    }
    if (!specials || !specials->has(name)) node.at("special_tokens").fail("no entry for template token '" + name + "'");
    auto ids = specials->at(name).at("ids");
    for (size_t i = 0; i < ids.size(); ++i) {
      auto id = ids.at(i).as_int();
      (seen_sequence ? after : before).push_back(static_cast<TokenId>(id));
    }
  }
  return std::make_unique<TemplatePostProcessor>(std::move(before), std::move(after));
}

}  // namespace allm::hf
