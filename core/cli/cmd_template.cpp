// allm template SOURCE (--messages FILE | --jsonl FILE) ...: render a chat template.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "allm/chat_template.hpp"
#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "command.hpp"
#include "context.hpp"

namespace allm::cli {
namespace {

using ojson = nlohmann::ordered_json;

std::string read_input(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ojson read_json_file(const std::string& path) {
  std::string text = read_input(path);
  if (std::string depth = json_depth_error(text); !depth.empty()) throw InvalidArgumentError(path + ": " + depth);
  try {
    return ojson::parse(text);
  } catch (const ojson::parse_error& e) {
    throw InvalidArgumentError(path + ": invalid JSON at byte " + std::to_string(e.byte));
  }
}

// --var k=v: v is JSON when it parses as JSON, else the plain string.
void apply_vars(const std::vector<std::string>& vars, ojson& variables) {
  for (auto& kv : vars) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw InvalidArgumentError("--var expects NAME=VALUE, got '" + kv + "'");
    std::string value = kv.substr(eq + 1);
    if (std::string depth = json_depth_error(value); !depth.empty())
      throw InvalidArgumentError("--var " + kv.substr(0, eq) + ": " + depth);
    ojson parsed = ojson::parse(value, nullptr, false);
    variables[kv.substr(0, eq)] = parsed.is_discarded() ? ojson(value) : parsed;
  }
}

// --now "YYYY-MM-DD HH:MM:SS": the time strftime_now() sees.
std::function<std::tm()> parse_clock(const std::optional<std::string>& now) {
  if (!now) return {};
  std::tm tm{};
  int year, month, day, hour, minute, second;
  if (std::sscanf(now->c_str(), "%d-%d-%d %d:%d:%d", &year, &month, &day, &hour, &minute, &second) != 6)
    throw InvalidArgumentError("--now expects \"YYYY-MM-DD HH:MM:SS\", got '" + *now + "'");
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  std::tm normalized = tm;
  timegm(&normalized);  // fills weekday and day of year
  tm.tm_wday = normalized.tm_wday;
  tm.tm_yday = normalized.tm_yday;
  return [tm] { return tm; };
}

ChatRequest request_from_object(const ojson& line, const ojson& base_vars) {
  ChatRequest req;
  if (!line.is_object()) throw InvalidArgumentError("each line must be a JSON object");
  req.variables = base_vars;
  for (auto it = line.begin(); it != line.end(); ++it) {
    if (it.key() == "messages") req.messages = it.value();
    else if (it.key() == "tools") req.tools = it.value();
    else if (it.key() == "documents") req.documents = it.value();
    else if (it.key() == "add_generation_prompt") req.add_generation_prompt = it.value().is_boolean() && it.value().get<bool>();
    else req.variables[it.key()] = it.value();
  }
  if (!line.contains("messages")) throw InvalidArgumentError("missing \"messages\"");
  return req;
}

int run_template(Args& args) {
  auto messages = args.value("messages");
  auto tools = args.value("tools");
  auto jsonl = args.value("jsonl");
  auto name = args.value("name");
  auto now = args.value("now");
  bool add_generation_prompt = args.flag("add-generation-prompt");
  auto vars = args.values("var");
  auto pos = args.positionals();
  args.finish();
  if (pos.size() != 1) throw InvalidArgumentError("usage: allm template SOURCE (--messages FILE | --jsonl FILE)");
  if (!messages == !jsonl) throw InvalidArgumentError("give exactly one of --messages FILE or --jsonl FILE");

  ChatTemplateSource source = find_chat_template(pos[0], name.value_or(""));
  ChatTemplate tpl = ChatTemplate::parse(source.text, source.origin);
  RenderOptions options;
  options.limits = RenderLimits::from_config(host().config().merged());
  options.clock = parse_clock(now);
  ojson variables = ojson::object();
  apply_vars(vars, variables);

  if (messages) {
    ChatRequest req;
    ojson m = read_json_file(*messages);
    if (m.is_object()) req = request_from_object(m, variables);
    else {
      req.messages = m;
      req.variables = variables;
    }
    if (tools) req.tools = read_json_file(*tools);
    if (add_generation_prompt) req.add_generation_prompt = true;
    std::cout << render_chat(tpl, req, options);
    std::cout.flush();
    return 0;
  }

  std::istringstream lines(read_input(*jsonl));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ojson out;
    try {
      if (std::string depth = json_depth_error(line); !depth.empty()) throw InvalidArgumentError(depth);
      ojson obj = ojson::parse(line);
      ChatRequest req = request_from_object(obj, variables);
      if (add_generation_prompt && !obj.contains("add_generation_prompt")) req.add_generation_prompt = true;
      out["rendered"] = render_chat(tpl, req, options);
    } catch (const ojson::parse_error& e) {
      out["error"] = "invalid JSON at byte " + std::to_string(e.byte);
    } catch (const std::exception& e) {
      out["error"] = e.what();
    }
    std::cout << out.dump(-1, ' ', false, ojson::error_handler_t::replace) << "\n";
  }
  return 0;
}

}  // namespace

ALLM_CLI_COMMAND(template, "Render a chat template with messages",
                 "Usage: allm template SOURCE --messages FILE [--tools FILE] [--add-generation-prompt]\n"
                 "                     [--var NAME=VALUE]... [--name NAME] [--now \"YYYY-MM-DD HH:MM:SS\"]\n"
                 "       allm template SOURCE --jsonl FILE [--var NAME=VALUE]...\n\n"
                 "Renders a Jinja2 chat template exactly as Hugging Face transformers does and\n"
                 "prints the prompt to stdout (no newline is added).\n\n"
                 "SOURCE is a model directory (chat_template.jinja, chat_template.json or\n"
                 "tokenizer_config.json's chat_template, in that order), a .jinja file, or a\n"
                 "tokenizer_config.json / chat_template.json file. Without a template the\n"
                 "documented fallback (\"role: content\" lines) is used, with a warning.\n\n"
                 "  --messages FILE           JSON list of messages, or an object with messages,\n"
                 "                            tools, add_generation_prompt and other variables\n"
                 "                            ('-' reads stdin)\n"
                 "  --tools FILE              JSON list of tool (function) schemas\n"
                 "  --add-generation-prompt   end with the assistant prompt\n"
                 "  --var NAME=VALUE          a template variable (VALUE is JSON if it parses,\n"
                 "                            else a string), e.g. --var bos_token='<s>'\n"
                 "  --name NAME               pick a named template (default: \"default\")\n"
                 "  --now TIME                the local time strftime_now() reports\n"
                 "  --jsonl FILE              batch: one JSON object per line with messages,\n"
                 "                            optional tools and add_generation_prompt; every other\n"
                 "                            key is a template variable. Prints one line per input:\n"
                 "                            {\"rendered\": \"...\"} or {\"error\": \"...\"}\n\n"
                 "Template errors exit with status 9 and name the template line and column.\n\n"
                 "See docs/chat-templates.md.",
                 run_template)

}  // namespace allm::cli
