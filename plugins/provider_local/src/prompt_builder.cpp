#include "prompt_builder.hpp"

#include "allm/error.hpp"
#include "allm/provider/generation.hpp"
#include "allm/vision.hpp"

namespace allm::local {

namespace {

// A message as chat templates take it (what transformers' apply_chat_template gets).
nlohmann::ordered_json template_message(const Message& m) {
  nlohmann::ordered_json j = {{"role", m.role}, {"content", m.content}};
  if (!m.tool_calls.empty()) {
    // Templates take arguments as a mapping (they iterate it or apply
    // tojson); OpenAI clients send them as JSON text.
    nlohmann::ordered_json calls = nlohmann::ordered_json::parse(m.tool_calls.dump());
    for (auto& c : calls) {
      auto& f = c["function"];
      if (f.contains("arguments") && f["arguments"].is_string()) {
        try {
          auto args = nlohmann::ordered_json::parse(f["arguments"].get<std::string>());
          if (args.is_object()) f["arguments"] = std::move(args);
        } catch (const nlohmann::json::exception&) {
          // Not JSON: the template gets the text as it came.
        }
      }
    }
    j["tool_calls"] = std::move(calls);
  }
  if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) j["name"] = m.name;
  return j;
}

}  // namespace

// Each marker the template wrote becomes the image's expansion, in order.
std::string expand_image_markers(const std::string& text, const VisionEncoder& vision,
                                 const std::vector<const ImageData*>& images) {
  const std::string marker = vision.image_marker();
  std::string out;
  size_t at = 0, found = 0;
  for (size_t hit; (hit = text.find(marker, at)) != std::string::npos; at = hit + marker.size(), ++found) {
    if (found == images.size()) break;
    out.append(text, at, hit - at);
    out += vision.expand_marker(*images[found]);
  }
  const size_t more = found == images.size() && text.find(marker, at) != std::string::npos ? 1 : 0;
  if (found != images.size() || more)
    throw InvalidArgumentError("request: the prompt holds " + std::to_string(found + more) + (more ? " or more" : "") +
                               " image markers (\"" + marker + "\") for " + std::to_string(images.size()) +
                               " image(s); the chat template must write one per image and the text none");
  out.append(text, at, std::string::npos);
  return out;
}

// The runs of the soft-token id, one per image.
std::vector<ImageRun> find_image_runs(const std::vector<TokenId>& ids, const VisionEncoder& vision,
                                      const std::vector<const ImageData*>& images) {
  std::vector<ImageRun> runs;
  const TokenId soft = vision.soft_token_id();
  for (size_t t = 0; t < ids.size();) {
    if (ids[t] != soft) {
      ++t;
      continue;
    }
    size_t end = t;
    while (end < ids.size() && ids[end] == soft) ++end;
    const size_t k = runs.size();
    if (k >= images.size() || static_cast<int64_t>(end - t) != vision.soft_token_count(*images[k]))
      throw InvalidArgumentError("request: the prompt's image tokens (a run of " + std::to_string(end - t) +
                                 " at token " + std::to_string(t) + ") do not match its " +
                                 std::to_string(images.size()) + " image(s)");
    runs.push_back({static_cast<int64_t>(t), static_cast<int64_t>(end - t), images[k]});
    t = end;
  }
  if (runs.size() != images.size())
    throw InvalidArgumentError("request: " + std::to_string(images.size()) + " image(s) but " +
                               std::to_string(runs.size()) + " runs of image tokens in the prompt");
  return runs;
}

RenderedPrompt render_prompt(const EngineModel& model, const std::vector<Message>& messages,
                             const nlohmann::json& tools, bool raw, const RenderLimits& limits,
                             const MessageImages& images) {
  RenderedPrompt out;
  bool add_special = true;
  std::vector<const ImageData*> in_order;
  for (const auto& list : images)
    for (const PlacedImage& p : list) in_order.push_back(p.image);
  VisionEncoder* vision = model.model->vision();
  if (!in_order.empty() && !vision)
    throw MediaError("this model does not support images (model '" + model.id + "' has no vision support)");
  auto images_of = [&](size_t i) { return i < images.size() ? images[i].size() : size_t{0}; };
  // Message i's text and images in order.
  auto pieces_of = [&](size_t i) {
    std::vector<size_t> offsets;
    for (size_t k = 0; k < images_of(i); ++k) offsets.push_back(images[i][k].offset);
    return content_pieces(messages[i].content, offsets);
  };
  if (raw) {
    for (size_t i = 0; i < messages.size(); ++i) {
      std::string content;
      for (const ContentPiece& p : pieces_of(i)) content += p.attachment ? vision->image_marker() : p.text;
      if (content.empty()) continue;
      if (!out.text.empty()) out.text += "\n\n";
      out.text += content;
    }
  } else {
    ChatRequest req;
    for (size_t i = 0; i < messages.size(); ++i) {
      nlohmann::ordered_json m = template_message(messages[i]);
      if (images_of(i) > 0) {  // as transformers' processors take them: a list of content items
        nlohmann::ordered_json items = nlohmann::ordered_json::array();
        bool any_text = false;
        for (const ContentPiece& p : pieces_of(i)) {
          if (p.attachment) {
            items.push_back({{"type", "image"}});
          } else {
            items.push_back({{"type", "text"}, {"text", p.text}});
            any_text = true;
          }
        }
        // Images alone: an empty text item still closes the list, as before
        // (templates that look for the turn's text find one).
        if (!any_text) items.push_back({{"type", "text"}, {"text", ""}});
        m["content"] = std::move(items);
      }
      req.messages.push_back(std::move(m));
    }
    if (tools.is_array() && !tools.empty()) req.tools = nlohmann::ordered_json::parse(tools.dump());
    req.add_generation_prompt = messages.empty() || messages.back().role != "assistant";
    req.variables = {{"bos_token", model.bos_token}, {"eos_token", model.eos_token}};
    RenderOptions options;
    options.limits = limits;
    out.text = render_chat(*model.chat_template, req, options);
    add_special = !rendered_starts_with_bos(out.text, model.bos_token);
  }
  if (!in_order.empty()) out.text = expand_image_markers(out.text, *vision, in_order);
  out.ids = model.tokenizer->encode(out.text, add_special);
  if (!in_order.empty()) out.images = find_image_runs(out.ids, *vision, in_order);
  const auto bos = model.tokenizer->bos_id();
  if (bos && !out.ids.empty() && out.ids.front() == *bos) out.keep_prefix = 1;
  return out;
}

FittedPrompt fit_prompt(const EngineModel& model, const PreparedRequest& request, bool raw, size_t context_length,
                        size_t reserve, const RenderLimits& limits) {
  FittedPrompt out;
  std::vector<Message> messages = request.messages;
  MessageImages all(request.messages.size());
  for (const auto& img : request.images)
    if (img.message_index < all.size()) all[img.message_index].push_back({&img.media.image, img.offset});
  const size_t keep_prefix = model.tokenizer->bos_id() && model.tokenizer->adds_bos() ? 1 : 0;
  size_t rendered_size = 0;
  out.ids = fit_to_context(
      messages, request.truncation, context_length, reserve,
      [&](const std::vector<Message>& msgs) {
        // Dropping turns keeps the others in order: each message left takes
        // the images of the next original message like it.
        MessageImages kept;
        if (!request.images.empty()) {
          size_t j = 0;
          for (const Message& m : msgs) {
            while (j < request.messages.size() &&
                   (request.messages[j].role != m.role || request.messages[j].content != m.content))
              ++j;
            kept.push_back(j < all.size() ? all[j] : std::vector<PlacedImage>{});
            if (j < request.messages.size()) ++j;
          }
        }
        RenderedPrompt r = render_prompt(model, msgs, request.tools, raw, limits, kept);
        rendered_size = r.ids.size();
        out.text = std::move(r.text);
        out.images = std::move(r.images);
        return r.ids;
      },
      keep_prefix);
  if (out.ids.size() < rendered_size && !out.images.empty()) {
    // truncate_left cut tokens after the kept prefix: the runs move left; a
    // run cut away goes, one cut into is refused.
    const auto cut = static_cast<int64_t>(rendered_size - out.ids.size());
    std::vector<ImageRun> kept;
    for (ImageRun r : out.images) {
      if (r.index + r.count <= static_cast<int64_t>(keep_prefix)) {
        kept.push_back(r);
      } else if (r.index >= static_cast<int64_t>(keep_prefix) + cut) {
        r.index -= cut;
        kept.push_back(r);
      } else if (r.index + r.count > static_cast<int64_t>(keep_prefix) + cut) {
        throw ContextWindowError("request: truncate_left would cut an image in two; shorten the conversation or "
                                 "use truncation drop_oldest");
      }
    }
    out.images = std::move(kept);
  }
  if (out.ids.empty()) throw InvalidArgumentError("request: the prompt is empty (no tokens to start from)");
  out.dropped_messages = request.messages.size() - messages.size();
  return out;
}

bool template_uses_tools(const EngineModel& model) {
  return !model.template_source.fallback && model.template_source.text.find("tools") != std::string::npos;
}

tools::Dialect dialect_of(const EngineModel& model, bool raw) {
  if (raw || model.template_source.fallback) return {};
  return tools::detect_dialect(model.template_source.text);
}

nlohmann::json reasoning_tags(const tools::Dialect& d) {
  if (d.think_open.empty()) return nullptr;
  return {{"open", d.think_open}, {"close", d.think_close}};
}

std::vector<TokenId> kept_special_tokens(const EngineModel& model, const PreparedRequest& request, bool raw) {
  std::vector<TokenId> out;
  const bool calls_wanted = (request.tools.is_array() && !request.tools.empty()) ||
                            (request.grammar && request.grammar->kind == "tool_calls");
  if (!calls_wanted) return out;
  for (const auto& text : tools::preserved_tokens(dialect_of(model, raw)))
    if (auto id = model.tokenizer->token_to_id(text); id && model.tokenizer->is_special(*id)) out.push_back(*id);
  return out;
}

}  // namespace allm::local
