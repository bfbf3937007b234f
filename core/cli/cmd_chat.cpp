// allm chat [MODEL]: an interactive conversation. Each turn reuses the KV
// cache of the previous ones, so only the new tokens are prefilled.
#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

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
    "  /image FILE     attach an image (or another file) to your next message;\n"
    "                  it goes before the text, or at a <__media__> in it;\n"
    "                  repeat for several (vision models: docs/vision.md)\n"
    "  /stats          statistics of the last answer\n"
    "  /exit           leave (also Ctrl-D)\n";

// ~/.local/state/allm/history ($XDG_STATE_HOME/allm/history): the prompt's
// history across sessions. Empty when HOME is unknown.
std::filesystem::path history_file() {
  std::filesystem::path state;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) state = x;
  else if (const char* h = std::getenv("HOME"); h && *h) state = std::filesystem::path(h) / ".local" / "state";
  else return {};
  return state / "allm" / "history";
}

// Ctrl-C at the prompt (readline on a terminal): the first clears the line,
// like a shell; a second one in a row leaves, as Ctrl-D does. The handler
// only sets a flag (installed without SA_RESTART, so read() returns EINTR);
// the key reader below acts on it outside the signal handler.
volatile std::sig_atomic_t g_prompt_sigint = 0;
int g_prompt_interrupts = 0;
bool g_leave = false;

extern "C" void on_prompt_sigint(int) { g_prompt_sigint = 1; }

int read_key(FILE* stream) {
  while (true) {
    unsigned char c;
    const ssize_t n = ::read(fileno(stream), &c, 1);
    if (n == 1) {
      g_prompt_interrupts = 0;  // "in a row": a key in between starts over
      return c;
    }
    if (n == 0 || errno != EINTR) return EOF;
    if (!g_prompt_sigint) continue;
    g_prompt_sigint = 0;
    rl_replace_line("", 0);
    if (++g_prompt_interrupts >= 2) {
      g_leave = true;
      return EOF;  // on an empty line: readline returns NULL, as for Ctrl-D
    }
    std::fputs("^C (Ctrl-C again or Ctrl-D to leave)\n", rl_outstream ? rl_outstream : stdout);
    rl_on_new_line();
    rl_redisplay();
  }
}

class Prompt {
 public:
  explicit Prompt(bool tty) : tty_(tty) {
    if (!tty_) return;
    history_ = history_file();
    if (!history_.empty()) read_history(history_.c_str());
    rl_catch_signals = 0;  // SIGINT at the prompt is ours (see read_key)
    rl_getc_function = read_key;
  }

  // One message: a line, or the lines between a line starting with """ and
  // one ending with """ (as Ollama). nullopt at the end of input / to leave.
  std::optional<std::string> read() {
    auto first = line("> ");
    if (!first || first->rfind("\"\"\"", 0) != 0) return remember(first);
    std::string rest = first->substr(3);
    if (ends_with_quotes(rest)) return remember(rest.substr(0, rest.size() - 3));  // """one line"""
    std::vector<std::string> lines;
    if (!rest.empty()) lines.push_back(rest);
    while (true) {
      auto next = line("... ");
      if (!next) return std::nullopt;
      const bool closing = ends_with_quotes(*next);
      if (closing) next->resize(next->size() - 3);
      if (!closing || !next->empty()) lines.push_back(*next);
      if (closing) break;
    }
    std::string text;
    for (size_t i = 0; i < lines.size(); ++i) text += (i ? "\n" : "") + lines[i];
    return remember(text);
  }

 private:
  static bool ends_with_quotes(const std::string& s) { return s.size() >= 3 && s.compare(s.size() - 3, 3, "\"\"\"") == 0; }

  std::optional<std::string> line(const char* prompt) {
    if (!tty_) {
      std::string s;
      if (!std::getline(std::cin, s)) return std::nullopt;
      if (!s.empty() && s.back() == '\r') s.pop_back();
      return s;
    }
    struct sigaction sa {}, previous {};
    sa.sa_handler = on_prompt_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &previous);
    char* raw = readline(prompt);
    sigaction(SIGINT, &previous, nullptr);
    if (g_leave || !raw) {
      std::free(raw);
      return std::nullopt;
    }
    std::string s(raw);
    std::free(raw);
    g_prompt_interrupts = 0;
    return s;
  }

  std::optional<std::string> remember(std::optional<std::string> entry) {
    if (!tty_ || !entry || entry->empty()) return entry;
    add_history(entry->c_str());
    if (!history_.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(history_.parent_path(), ec);
      if (!std::filesystem::exists(history_, ec)) write_history(history_.c_str());
      else append_history(1, history_.c_str());
      history_truncate_file(history_.c_str(), 1000);
    }
    return entry;
  }

  bool tty_;
  std::filesystem::path history_;
};

TruncationPolicy chat_truncation_from_config() {
  const auto& cfg = host().config().merged();
  const auto chat = cfg.find("chat");
  if (chat == cfg.end() || !chat->is_object() || !chat->contains("truncation")) return TruncationPolicy::drop_oldest;
  const auto& v = (*chat)["truncation"];
  if (v.is_string())
    for (auto p : {TruncationPolicy::error, TruncationPolicy::drop_oldest, TruncationPolicy::truncate_left})
      if (v.get<std::string>() == truncation_policy_name(p)) return p;
  throw ConfigError("chat.truncation (" + host().config().origin("chat.truncation") +
                    ") must be error, drop_oldest or truncate_left, got " + v.dump());
}

struct Chat {
  std::shared_ptr<Provider> provider;
  SessionOptions options;
  std::optional<ChatSession> session;
  std::optional<GenerateResponse> last;
  std::vector<std::filesystem::path> pending;  // /image files for the next message
  bool stats = false;

  void start_over() {
    session.emplace(provider, options);
  }

  void answer(const std::string& text) {
    CancellationToken cancel;
    GenerateResponse r;
    {
      SigintCancels on_ctrl_c(cancel);
      // Pending attachments go with this message, and stay pending if it fails.
      MarkedText marked = place_attachments(text, pending.size(), "the message");
      Message turn("user", std::move(marked.text), pending);
      turn.attachment_offsets = std::move(marked.offsets);
      r = session->send(std::move(turn), [](const StreamDelta& d) { std::cout << d.text << std::flush; }, cancel);
      pending.clear();
    }
    std::cout << "\n" << std::flush;
    if (r.finish_reason == finish_reason::cancelled) std::cerr << "[answer cancelled]\n";
    last = r;
    const Capabilities caps = provider->capabilities();
    if (stats) std::cerr << "[" << stats_line(r, caps) << "]\n";
    if (auto note = context_notes(r, caps); !note.empty()) std::cerr << "[" << note << "]\n";
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
    } else if (name == "/image") {
      if (arg.empty()) throw InvalidArgumentError("/image needs a file name");
      if (!std::filesystem::is_regular_file(arg)) throw MediaError(arg + ": cannot attach: no such file");
      pending.emplace_back(arg);
      std::cerr << "[" << arg << " goes with your next message (" << pending.size() << " attached)]\n";
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
  auto truncation = args.value("truncation");
  nlohmann::json options = provider_flags(args);
  chat.options.params = generation_flags(args);
  auto pos = args.positionals();
  args.finish();
  if (pos.size() > 1) throw InvalidArgumentError("allm chat takes at most one MODEL");

  // --system "" is no system turn, as /system with no text.
  if (system && !system->empty()) chat.options.system_prompt = system;
  // A long chat drops its oldest turns (with a notice) rather than stopping,
  // unless config chat.truncation or --truncation says otherwise.
  chat.options.truncation = truncation ? truncation_flag(*truncation) : chat_truncation_from_config();
  const ModelChoice model = pos.empty() ? default_model() : choose_model(pos[0]);
  chat.provider = make_provider(model, options);
  chat.start_over();
  const bool tty = isatty(STDIN_FILENO);
  if (tty)
    std::cerr << "Chatting with " << model.spec
              << ". /help lists commands; \"\"\" starts and ends a multi-line message; Ctrl-C stops an answer, "
                 "Ctrl-D quits.\n";

  Prompt prompt(tty);
  while (auto line = prompt.read()) {
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
                 "A message spanning several lines goes between two \"\"\" (a line starting\n"
                 "with \"\"\" opens it, one ending with \"\"\" closes it). The terminal's input\n"
                 "history is kept in ~/.local/state/allm/history ($XDG_STATE_HOME/allm).\n\n"
                 "Each turn reuses the KV cache of the conversation so far: only the new\n"
                 "tokens are processed. When the conversation outgrows the context window\n"
                 "its oldest turns are left out (with a notice; --truncation changes that).\n"
                 "Ctrl-C stops the current answer (the part produced is kept); at the prompt\n"
                 "it clears the line, and a second Ctrl-C, Ctrl-D or /exit leaves.\n\n"
                 "Commands:\n" + std::string(kChatCommands) +
                 "\nOptions:\n"
                 "  --system S             system prompt (\"\" = none)\n"
                 "  --truncation P         when the conversation outgrows the context window:\n"
                 "                         drop_oldest, truncate_left or error (default:\n"
                 "                         config chat.truncation, built in drop_oldest)\n"
                 "  --stats                after each answer, print on stderr the prompt tokens\n"
                 "                         processed (only the new ones on follow-up turns)\n"
                 "                         and tok/s\n" +
                 std::string(kGenerationFlagsHelp),
                 run_chat)

}  // namespace allm::cli
