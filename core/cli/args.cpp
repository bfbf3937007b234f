#include <charconv>
#include <cmath>

#include "allm/error.hpp"
#include "command.hpp"

namespace allm::cli {

std::vector<Command>& commands() {
  static std::vector<Command> table;
  return table;
}

Args::Args(std::string command, std::vector<std::string> argv) : command_(std::move(command)) {
  for (auto& a : argv) tokens_.push_back({std::move(a), false});
}

static bool is_option(const std::string& s) { return s.size() > 1 && s[0] == '-' && s != "-"; }

bool Args::flag(const std::string& name) {
  bool found = false;
  for (auto& t : tokens_) {
    if (t.used) continue;
    if (t.text == "--") break;
    if (t.text == "--" + name) {
      t.used = true;
      found = true;
    } else if (t.text.rfind("--" + name + "=", 0) == 0) {
      auto v = t.text.substr(name.size() + 3);
      if (v != "true" && v != "false")
        throw InvalidArgumentError("--" + name + " takes true or false, not '" + v + "'");
      t.used = true;
      found = v == "true";
    }
  }
  return found;
}

std::vector<std::string> Args::values(const std::string& name, const std::string& short_name) {
  std::vector<std::string> out;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    auto& t = tokens_[i];
    if (t.used) continue;
    if (t.text == "--") break;
    if (t.text == "--" + name || (!short_name.empty() && t.text == short_name)) {
      if (i + 1 >= tokens_.size() || tokens_[i + 1].used)
        throw InvalidArgumentError("option " + t.text + " needs a value");
      t.used = true;
      tokens_[i + 1].used = true;
      out.push_back(tokens_[i + 1].text);
      ++i;
    } else if (t.text.rfind("--" + name + "=", 0) == 0) {
      t.used = true;
      out.push_back(t.text.substr(name.size() + 3));
    }
  }
  return out;
}

std::optional<std::string> Args::value(const std::string& name, const std::string& short_name) {
  auto all = values(name, short_name);
  if (all.empty()) return std::nullopt;
  if (all.size() > 1) throw InvalidArgumentError("option --" + name + " given more than once");
  return all.front();
}

std::optional<double> Args::number(const std::string& name) {
  auto v = value(name);
  if (!v) return std::nullopt;
  double d = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), d);
  if (ec != std::errc() || end != v->data() + v->size() || !std::isfinite(d))
    throw InvalidArgumentError("--" + name + " expects a number, got '" + *v + "'");
  return d;
}

std::optional<long long> Args::integer(const std::string& name) {
  auto v = value(name);
  if (!v) return std::nullopt;
  long long n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec == std::errc::result_out_of_range && end == v->data() + v->size())
    throw InvalidArgumentError("--" + name + " is out of range, got " + *v);
  if (ec != std::errc() || end != v->data() + v->size())
    throw InvalidArgumentError("--" + name + " expects an integer, got '" + *v + "'");
  return n;
}

std::vector<std::string> Args::positionals() {
  std::vector<std::string> out;
  bool after_dashdash = false;
  for (auto& t : tokens_) {
    if (t.used) continue;
    if (!after_dashdash && t.text == "--") {
      t.used = true;
      after_dashdash = true;
      before_dashdash_ = out.size();
      continue;
    }
    if (after_dashdash || !is_option(t.text)) {
      t.used = true;
      out.push_back(t.text);
    }
  }
  if (!after_dashdash) before_dashdash_ = out.size();
  positionals_taken_ = true;
  return out;
}

void Args::finish() {
  for (auto& t : tokens_) {
    if (t.used) continue;
    if (is_option(t.text))
      throw InvalidArgumentError("unknown option '" + t.text + "' for 'allm " + command_ +
                                 "' (see allm " + command_ + " --help)");
    throw InvalidArgumentError("unexpected argument '" + t.text + "' for 'allm " + command_ + "'");
  }
}

}  // namespace allm::cli
