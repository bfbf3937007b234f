#pragma once
// Executes a parsed Program against a context, within RenderLimits.
#include <ctime>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "allm/chat_template.hpp"
#include "jinja/ast.hpp"
#include "jinja/value.hpp"

namespace allm::jinja {

// Variables visible at one nesting level. Jinja gives every for-loop
// iteration, macro call, `with` block and block set / filter body its own
// scope; `if` shares its parent's.
struct Scope {
  std::shared_ptr<Scope> parent;
  std::unordered_map<std::string, Value> vars;

  const Value* lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
      auto it = s->vars.find(name);
      if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
 public:
  Interpreter(std::shared_ptr<const Program> program, const RenderOptions& options);

  // Renders the whole template with `context` (a dict Value) as variables.
  std::string render(const Value& context);

  // ---- services for the builtins ----
  Value call(const Value& callee, CallArgs& args);
  Value apply_filter(const std::string& name, const Value& target, CallArgs& args);
  bool apply_test(const std::string& name, const Value& target, CallArgs& args);
  // Throws when a value being built would exceed max_output_bytes.
  void check_size(size_t bytes) const;
  size_t size_limit() const { return options_.limits.max_output_bytes; }
  // Counts one unit of work against max_steps.
  void step();
  std::tm now() const;
  // Runs a macro (or a call block's caller) defined by `s` in `defining`.
  Value invoke_macro(const Stmt& s, const ScopePtr& defining, const Value& caller, CallArgs& args);

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec_body(const Body& body, const ScopePtr& scope);
  Flow exec(const Stmt& s, const ScopePtr& scope);
  Flow exec_for(const Stmt& s, const ScopePtr& scope);
  // One level of a for loop over `iterable` (a recursive loop's `loop(x)`
  // runs another level at depth + 1).
  Flow run_loop(const Stmt& s, const Value& iterable, const ScopePtr& scope, int64_t depth);
  void exec_set(const Stmt& s, const ScopePtr& scope);
  void assign(const Expr& target, const Value& value, const ScopePtr& scope);
  std::string capture(const Body& body, const ScopePtr& scope);
  // Block `set` and `filter` bodies: assignments inside stay inside.
  std::string capture_scoped(const Body& body, const ScopePtr& scope);
  Value make_macro(const Stmt& s, const ScopePtr& scope, const Value& caller);
  Value apply_filter_chain(const std::vector<ExprPtr>& filters, Value value, const ScopePtr& scope);

  Value eval(const Expr& e, const ScopePtr& scope);
  Value eval_inner(const Expr& e, const ScopePtr& scope);
  CallArgs eval_args(const std::vector<Arg>& args, const ScopePtr& scope);
  Value lookup(const std::string& name, const ScopePtr& scope) const;

  void write(const std::string& text);
  [[noreturn]] void fail(Pos pos, const std::string& message) const;

  std::shared_ptr<const Program> program_;
  RenderOptions options_;
  Value context_;
  ScopePtr root_;  // the template's top level (what blocks see)
  std::string* out_ = nullptr;
  // Scopes that define macros and namespaces that were given containers or
  // callables: the only places a reference cycle can form (a macro's closure
  // holds the scope holding the macro; `ns.self = ns`). Emptied when the
  // render ends so the cycles are freed.
  std::vector<std::weak_ptr<Scope>> cyclic_scopes_;
  std::vector<std::weak_ptr<DictObj>> cyclic_dicts_;
  void break_cycles() noexcept;
  uint64_t steps_ = 0;
  int depth_ = 0;       // evaluation recursion (guards the native stack)
  int call_depth_ = 0;  // nested macro calls (max_depth)
};

}  // namespace allm::jinja
