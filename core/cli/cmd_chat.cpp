// allm chat [MODEL]: an interactive conversation. Each turn reuses the KV
// cache of the previous ones, so only the new tokens are prefilled.
#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "allm/provider/session.hpp"
#include "generation_cli.hpp"

namespace allm::cli {

namespace {

constexpr const char* kChatCommands =
    "  /help           this list\n"
    "  /system TEXT    set the system prompt and start a new conversation\n"
    "  /reset          forget the conversation\n"
    "  /save FILE      save the conversation (and its KV cache, FILE.kv)\n"
    "  /load FILE      load a saved conversation\n"
    "  /stats          statistics of the last answer\n"
    "  /exit           leave (also Ctrl-D)\n";

// A line of input: readline on a terminal, plain getline otherwise (no
// prompt on stdout, so piped output holds only answers).
std::optional<std::string> read_line(bool tty) {
  if (tty) {
    char* line = readline("> ");
    if (!line) return std::nullopt;
    std::string s(line);
    std::free(line);
    if (!s.empty()) add_history(s.c_str());
    return s;
  }
  std::string s;
  if (!std::getline(std::cin, s)) return std::nullopt;
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

struct Chat {
  std::shared_ptr<Provider> provider;
  SessionOptions options;
  std::optional<ChatSession> session;
  std::optional<GenerateResponse> last;
  bool stats = false;

  void start_over() {
    session.emplace(provider, options);
  }

  void answer(const std::string& text) {
    CancellationToken cancel;
    GenerateResponse r;
    {
      SigintCancels on_ctrl_c(cancel);
      r = session->send(text, {}, [](const StreamDelta& d) { std::cout << d.text << std::flush; }, cancel);
    }
    std::cout << "\n" << std::flush;
    if (r.finish_reason == finish_reason::cancelled) std::cerr << "[answer cancelled]\n";
    last = r;
    if (stats) std::cerr << "[" << stats_line(r, provider->capabilities()) << "]\n";
  }

  // Returns false on /exit.
  bool command(const std::string& line) {
    const auto space = line.find(' ');
    const std::string name = line.substr(0, space);
    std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
    arg.erase(0, arg.find_first_not_of(' '));
    if (name == "/exit" || name == "/quit") return false;
    if (name == "/help") {
      std::cerr << kChatCommands;
    } else if (name == "/system") {
      if (arg.empty()) options.system_prompt.reset();
      else options.system_prompt = arg;
      start_over();
      std::cerr << (arg.empty() ? "[system prompt cleared; new conversation]\n" : "[system prompt set; new conversation]\n");
    } else if (name == "/reset") {
      start_over();
      std::cerr << "[new conversation]\n";
    } else if (name == "/save") {
      if (arg.empty()) throw InvalidArgumentError("/save needs a file name");
      session->save(arg);
      std::cerr << "[saved " << session->history().size() << " messages to " << arg << "]\n";
    } else if (name == "/load") {
      if (arg.empty()) throw InvalidArgumentError("/load needs a file name");
      session.emplace(ChatSession::load(provider, arg));
      options = session->options();
      std::cerr << "[loaded " << session->history().size() << " messages"
                << (session->cache_restored() ? ", KV cache restored" : "") << "]\n";
    } else if (name == "/stats") {
      if (last) std::cerr << "[" << stats_line(*last, provider->capabilities()) << "]\n";
      else std::cerr << "[no answer yet]\n";
    } else {
      throw InvalidArgumentError("unknown command '" + name + "' (see /help)");
    }
    return true;
  }
};

}  // namespace

static int run_chat(Args& args) {
  Chat chat;
  chat.stats = args.flag("stats");
  auto system = args.value("system");
  nlohmann::json options = provider_flags(args);
  chat.options.params = generation_flags(args);
  auto pos = args.positionals();
  args.finish();
  if (pos.size() > 1) throw InvalidArgumentError("allm chat takes at most one MODEL");
  const std::string model = pos.empty() ? default_model_spec() : pos[0];

  chat.options.system_prompt = system;
  chat.provider = make_local_provider(model, options);
  chat.start_over();
  const bool tty = isatty(STDIN_FILENO);
  if (tty) std::cerr << "Chatting with " << model << ". /help lists commands; Ctrl-C stops an answer, Ctrl-D quits.\n";

  while (auto line = read_line(tty)) {
    if (line->empty()) continue;
    try {
      if ((*line)[0] == '/') {
        if (!chat.command(*line)) break;
      } else {
        chat.answer(*line);
      }
    } catch (const Error& e) {  // a bad turn or command does not end the chat
      std::cerr << "allm: " << error_code_name(e.code()) << ": " << e.what() << "\n";
    }
  }
  if (tty) std::cerr << "\n";  // leave the terminal on a fresh line after Ctrl-D
  return 0;
}

ALLM_CLI_COMMAND(chat, "Chat with a model interactively",
                 "Usage: allm chat [MODEL] [options]\n\n"
                 "An interactive conversation through the model's chat template. MODEL is as\n"
                 "for 'allm run' (default: config default_model). On a terminal the input has\n"
                 "line editing and history (readline); otherwise lines are read from stdin and\n"
                 "only the answers are written to stdout, one per line group.\n\n"
                 "Each turn reuses the KV cache of the conversation so far: only the new\n"
                 "tokens are processed. Ctrl-C stops the current answer (the part produced\n"
                 "is kept); Ctrl-D or /exit leaves.\n\n"
                 "Commands:\n" + std::string(kChatCommands) +
                 "\nOptions:\n"
                 "  --system S             system prompt\n"
                 "  --stats                after each answer, print on stderr the prompt tokens\n"
                 "                         processed (only the new ones on follow-up turns)\n"
                 "                         and tok/s\n" +
                 std::string(kGenerationFlagsHelp),
                 run_chat)

}  // namespace allm::cli
