#include "hf_tokenizer.hpp"

#include "regex.hpp"

#include "utf8.hpp"

namespace allm::hf {

HfTokenizer::HfTokenizer(TokenizerJson& parsed, const std::string& origin, const nlohmann::json& config) {
  JsonNode root(parsed.doc, origin, "");
  if (!root.is_object()) root.fail("expected a JSON object");
  if (auto n = root.get("normalizer")) normalizer_ = make_normalizer(*n);
  if (auto p = root.get("pre_tokenizer")) pre_tokenizer_ = make_pre_tokenizer(*p);
  model_ = make_model(root.at("model"), &parsed);
  if (auto p = root.get("post_processor")) post_processor_ = make_post_processor(*p);
  if (auto d = root.get("decoder")) decoder_ = make_decoder(*d);
  if (auto a = root.get("added_tokens")) added_.load(*a, normalizer_.get());
  resolve_bos_eos(config);
}

void HfTokenizer::encode_plain(std::string_view text, bool at_start, std::vector<TokenId>& ids) const {
  auto to_model = [&](std::string_view piece, bool) { model_->tokenize(piece, ids); };
  if (pre_tokenizer_)
    pre_tokenizer_->split(text, at_start, to_model);
  else if (!text.empty())
    model_->tokenize(text, ids);
}

std::vector<TokenId> HfTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  utf8::validate(text, "encode");
  RegexBudget regex_work(text.size());  // shared by every pattern this encode runs
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<Segment> segments, inner;
  added_.split_raw(text, segments);
  std::string normalized;
  for (const Segment& seg : segments) {
    if (seg.token) {
      ids.push_back(*seg.token);
      continue;
    }
    std::string_view piece = text.substr(seg.start, seg.end - seg.start);
    bool at_start = seg.start == 0;
    if (normalizer_) {
      normalized.assign(piece);
      normalizer_->normalize(normalized);
      piece = normalized;
    }
    if (!added_.has_normalized()) {
      encode_plain(piece, at_start, ids);
      continue;
    }
    added_.split_normalized(piece, inner);
    for (const Segment& sub : inner) {
      if (sub.token)
        ids.push_back(*sub.token);
      else
        encode_plain(piece.substr(sub.start, sub.end - sub.start), at_start && sub.start == 0, ids);
    }
  }
  if (add_special_tokens && post_processor_) post_processor_->process(ids);
  return ids;
}

std::string HfTokenizer::decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (TokenId id : ids) {
    if (const AddedToken* t = added_.by_id(id)) {
      if (!(skip_special_tokens && t->special)) tokens.push_back(t->content);
    } else if (const std::string* s = model_->id_to_token(id)) {
      tokens.push_back(*s);
    }
  }
  std::string out;
  if (!decoder_) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  decoder_->decode(tokens);
  for (auto& t : tokens) out += t;
  return out;
}

size_t HfTokenizer::vocab_size() const {
  size_t n = model_->id_bound();
  for (auto& t : added_.tokens()) n = std::max(n, static_cast<size_t>(t.id) + 1);
  return n;
}

std::optional<std::string> HfTokenizer::id_to_token(TokenId id) const {
  if (const AddedToken* t = added_.by_id(id)) return t->content;
  if (const std::string* s = model_->id_to_token(id)) return *s;
  return std::nullopt;
}

std::optional<TokenId> HfTokenizer::token_to_id(std::string_view token) const {
  if (auto id = added_.by_content(token)) return id;
  return model_->token_to_id(token);
}

bool HfTokenizer::is_special(TokenId id) const {
  const AddedToken* t = added_.by_id(id);
  return t && t->special;
}

// BOS/EOS come from tokenizer_config.json when there is one; otherwise BOS is
// what the post-processor puts first and EOS the first of the usual names.
void HfTokenizer::resolve_bos_eos(const nlohmann::json& config) {
  auto token_name = [&](const char* key) -> std::optional<std::string> {
    if (!config.is_object()) return std::nullopt;
    auto it = config.find(key);
    if (it == config.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
      return (*it)["content"].get<std::string>();
    return std::nullopt;
  };
  std::vector<TokenId> leading = post_processor_ ? post_processor_->leading_ids() : std::vector<TokenId>{};
  if (auto name = token_name("bos_token"))
    bos_ = token_to_id(*name);
  else if (!leading.empty())
    bos_ = leading.front();
  if (auto name = token_name("eos_token")) {
    eos_ = token_to_id(*name);
  } else {
    for (const char* name : {"</s>", "<eos>", "<|end_of_text|>", "<|endoftext|>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"})
      if ((eos_ = added_.by_content(name))) break;
  }
  adds_bos_ = bos_ && !leading.empty() && leading.front() == *bos_;
}

}  // namespace allm::hf
