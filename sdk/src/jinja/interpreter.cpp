#include "jinja/interpreter.hpp"

#include <chrono>
#include <stdexcept>

#include "jinja/builtins.hpp"
#include "jinja/operations.hpp"
#include "jinja/source_error.hpp"

namespace allm::jinja {

using std::runtime_error;

namespace {

// Native-stack guard: evaluation recurses once per nested node, and macros
// nest evaluations; past this depth the render fails instead of crashing.
constexpr int kMaxEvalDepth = 1000;

struct DepthGuard {
  int& depth;
  DepthGuard(int& d, int limit, const char* what) : depth(d) {
    if (++depth > limit) {
      --depth;
      throw runtime_error(std::string(what));
    }
  }
  ~DepthGuard() { --depth; }
};

// Restores the output target after a capture, also on exceptions, and
// refunds the captured text's bytes (charged as written) to the budget.
struct OutputSwap {
  std::string*& slot;
  std::string* saved;
  bool refund;
  OutputSwap(std::string*& s, std::string* replacement, bool refund_on_exit)
      : slot(s), saved(s), refund(refund_on_exit) {
    slot = replacement;
  }
  ~OutputSwap() {
    if (refund)
      if (MemoryBudget* b = MemoryBudget::current()) b->refund(slot->size());
    slot = saved;
  }
};

}  // namespace

Interpreter::Interpreter(std::shared_ptr<const Program> program, const RenderOptions& options)
    : program_(std::move(program)), options_(options) {}

void Interpreter::fail(Pos pos, const std::string& message) const {
  fail_at(program_->origin, pos.line, pos.column, message);
}

void Interpreter::check_size(size_t bytes) const {
  if (bytes > options_.limits.max_output_bytes)
    throw runtime_error("output exceeds the limit of " + std::to_string(options_.limits.max_output_bytes) + " bytes");
}

void Interpreter::step() {
  if (++steps_ > options_.limits.max_steps)
    throw runtime_error("template exceeded the limit of " + std::to_string(options_.limits.max_steps) + " steps");
}

std::tm Interpreter::now() const {
  if (options_.clock) return options_.clock();
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

void Interpreter::write(const std::string& text) {
  check_size(out_->size() + text.size());
  charge_memory(text.size());
  *out_ += text;
}

std::string Interpreter::render(const Value& context) {
  // A budget of its own unless the caller (ChatTemplate::render) made one current.
  std::optional<MemoryBudget> own_budget;
  std::optional<MemoryBudget::Active> active;
  if (!MemoryBudget::current()) {
    own_budget.emplace(options_.limits.max_memory_bytes, options_.limits.max_output_bytes);
    active.emplace(&*own_budget);
  }
  struct CycleBreaker {
    Interpreter& in;
    ~CycleBreaker() { in.break_cycles(); }
  } breaker{*this};
  context_ = context;
  std::string out;
  {
    OutputSwap swap(out_, &out, false);
    auto root = std::make_shared<Scope>();
    root_ = root;
    exec_body(program_->body, root);
    root_.reset();
  }
  return out;
}

void Interpreter::break_cycles() noexcept {
  for (auto& weak : cyclic_scopes_)
    if (auto scope = weak.lock()) {
      auto vars = std::move(scope->vars);  // freed after the scope no longer refers to them
      scope->vars.clear();
    }
  for (auto& weak : cyclic_dicts_)
    if (auto dict = weak.lock()) {
      auto items = std::move(dict->items);
      dict->items.clear();
    }
  cyclic_scopes_.clear();
  cyclic_dicts_.clear();
}

Value Interpreter::lookup(const std::string& name, const ScopePtr& scope) const {
  if (const Value* v = scope->lookup(name)) return *v;
  if (context_.is_dict())
    if (const Value* v = context_.as_dict().find(Value(name))) return *v;
  Value global = find_global(name);
  if (!global.is_undefined()) return global;
  return Value::undefined("'" + name + "' is undefined");
}

// ---------------------------------------------------------------- statements

Interpreter::Flow Interpreter::exec_body(const Body& body, const ScopePtr& scope) {
  for (auto& s : body) {
    Flow f = exec(*s, scope);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, const ScopePtr& scope) {
  try {
    DepthGuard guard(depth_, kMaxEvalDepth, "template nested too deeply");
    step();
    switch (s.kind) {
      case StmtKind::Text: write(s.text); return Flow::Normal;
      case StmtKind::Output: write(str_of(eval(*s.expr, scope))); return Flow::Normal;
      case StmtKind::If:
        for (size_t i = 0; i < s.conditions.size(); ++i)
          if (eval(*s.conditions[i], scope).truthy()) return exec_body(s.bodies[i], scope);
        if (s.bodies.size() > s.conditions.size()) return exec_body(s.bodies.back(), scope);
        return Flow::Normal;
      case StmtKind::For: return exec_for(s, scope);
      case StmtKind::Set:
      case StmtKind::SetBlock: exec_set(s, scope); return Flow::Normal;
      case StmtKind::Macro: scope->vars[s.name] = make_macro(s, scope, Value()); return Flow::Normal;
      case StmtKind::CallBlock: {
        const Expr& call_expr = *s.expr;
        Value callee = eval(*call_expr.target, scope);
        CallArgs args = eval_args(call_expr.args, scope);
        auto caller_scope = scope;
        const Stmt* stmt = &s;
        args.keyword.emplace_back("caller", Value::function("caller", [stmt, caller_scope](CallArgs& a, Interpreter& in) {
                                    return in.invoke_macro(*stmt, caller_scope, Value(), a);
                                  }));
        write(str_of(call(callee, args)));
        return Flow::Normal;
      }
      case StmtKind::FilterBlock:
        write(str_of(apply_filter_chain(s.filters, Value(capture_scoped(s.body, scope)), scope)));
        return Flow::Normal;
      case StmtKind::With: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        for (auto& [name, expr] : s.assignments) inner->vars[name] = eval(*expr, scope);
        return exec_body(s.body, inner);
      }
      case StmtKind::Break: return Flow::Break;
      case StmtKind::Continue: return Flow::Continue;
      case StmtKind::Generation: return exec_body(s.body, scope);
      case StmtKind::Block: {
        auto inner = std::make_shared<Scope>();
        inner->parent = s.scoped ? scope : root_;
        exec_body(s.body, inner);
        return Flow::Normal;
      }
      case StmtKind::Load:
        // Jinja evaluates the name, then its environment (transformers' has
        // no loader) refuses: templates cannot load other files.
        eval(*s.expr, scope);
        fail(s.pos, "no loader for this environment specified ('" + s.name + "' cannot load other templates)");
    }
    return Flow::Normal;
  } catch (const allm::Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(s.pos, e.what());
  }
}

std::string Interpreter::capture(const Body& body, const ScopePtr& scope) {
  std::string buffer;
  OutputSwap swap(out_, &buffer, true);
  exec_body(body, scope);
  return buffer;
}

std::string Interpreter::capture_scoped(const Body& body, const ScopePtr& scope) {
  auto inner = std::make_shared<Scope>();
  inner->parent = scope;
  return capture(body, inner);
}

Value Interpreter::apply_filter_chain(const std::vector<ExprPtr>& filters, Value value, const ScopePtr& scope) {
  for (auto& f : filters) {
    CallArgs args = eval_args(f->args, scope);
    try {
      value = apply_filter(f->name, value, args);
    } catch (const allm::Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(f->pos, e.what());
    }
  }
  return value;
}

void Interpreter::exec_set(const Stmt& s, const ScopePtr& scope) {
  Value value = s.kind == StmtKind::Set ? eval(*s.expr, scope)
                                        : apply_filter_chain(s.filters, Value(capture_scoped(s.body, scope)), scope);
  assign(*s.target, value, scope);
}

void Interpreter::assign(const Expr& target, const Value& value, const ScopePtr& scope) {
  if (target.kind == ExprKind::Name) {
    scope->vars[target.name] = value;
    return;
  }
  if (target.kind == ExprKind::Attr) {
    Value ns = eval(*target.target, scope);
    if (!ns.is_dict() || !ns.as_dict().is_namespace)
      throw runtime_error("cannot assign attribute on non-namespace object");
    if ((value.is_list() || value.is_dict() || value.is_callable()) && !ns.as_dict().cycle_tracked) {
      ns.as_dict().cycle_tracked = true;
      cyclic_dicts_.push_back(ns.dict_ptr());
    }
    ns.as_dict().set(Value(target.name), value);
    return;
  }
  // Tuple unpacking.
  std::vector<Value> items = iterate(value);
  if (items.size() != target.items.size())
    throw runtime_error(items.size() > target.items.size()
                            ? "too many values to unpack (expected " + std::to_string(target.items.size()) + ")"
                            : "not enough values to unpack (expected " + std::to_string(target.items.size()) +
                                  ", got " + std::to_string(items.size()) + ")");
  for (size_t i = 0; i < items.size(); ++i) assign(*target.items[i], items[i], scope);
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const ScopePtr& scope) {
  return run_loop(s, eval(*s.expr, scope), scope, 1);
}

Interpreter::Flow Interpreter::run_loop(const Stmt& s, const Value& iterable, const ScopePtr& scope, int64_t depth) {
  std::vector<Value> items = iterate(iterable);
  auto loop_scope = std::make_shared<Scope>();
  loop_scope->parent = scope;
  if (s.filter) {
    std::vector<Value> kept;
    for (auto& item : items) {
      step();
      assign(*s.target, item, loop_scope);
      if (eval(*s.filter, loop_scope).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec_body(s.else_body, scope);

  auto last_changed = std::make_shared<std::optional<Value>>();
  // `loop.changed(loop)` stores the loop object in its own closure's state.
  struct ForgetChanged {
    std::shared_ptr<std::optional<Value>>& state;
    ~ForgetChanged() { state->reset(); }
  } forget{last_changed};
  int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    step();
    // Jinja starts every iteration afresh: what the body assigned in the
    // previous iteration is gone, and outer variables show through again.
    auto iteration = std::make_shared<Scope>();
    iteration->parent = scope;
    assign(*s.target, items[static_cast<size_t>(i)], iteration);
    Value loop = Value::dict();
    auto& d = loop.as_dict();
    d.set(Value("index"), Value(i + 1));
    d.set(Value("index0"), Value(i));
    d.set(Value("revindex"), Value(n - i));
    d.set(Value("revindex0"), Value(n - i - 1));
    d.set(Value("first"), Value(i == 0));
    d.set(Value("last"), Value(i == n - 1));
    d.set(Value("length"), Value(n));
    d.set(Value("depth"), Value(depth));
    d.set(Value("depth0"), Value(depth - 1));
    d.set(Value("previtem"), i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    d.set(Value("nextitem"), i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    d.set(Value("cycle"), Value::function("cycle", [i](CallArgs& a, Interpreter&) {
            if (a.positional.empty()) throw runtime_error("no items for cycling given");
            return a.positional[static_cast<size_t>(i) % a.positional.size()];
          }));
    d.set(Value("changed"), Value::function("changed", [last_changed](CallArgs& a, Interpreter&) {
            Value current = Value::list(a.positional);
            bool changed = !last_changed->has_value() || !values_equal(**last_changed, current);
            *last_changed = current;
            return Value(changed);
          }));
    if (!s.recursive) {
      static const CallablePtr not_recursive = std::make_shared<Callable>(Callable{"loop", [](CallArgs&, Interpreter&) -> Value {
        throw runtime_error("The loop must have the 'recursive' marker to be called recursively.");
      }});
      d.call = not_recursive;
    } else {
      // loop(x) renders this loop's body for x, one level deeper, and
      // returns the text (Jinja's recursive loops).
      const Stmt* stmt = &s;
      d.call = std::make_shared<Callable>(Callable{"loop", [stmt, scope, depth](CallArgs& a, Interpreter& in) {
        if (a.positional.size() != 1 || !a.keyword.empty())
          throw runtime_error("loop() takes exactly one argument, the iterable to loop over");
        DepthGuard guard(in.call_depth_, in.options_.limits.max_depth, "maximum recursion depth of a recursive loop exceeded");
        std::string buffer;
        OutputSwap swap(in.out_, &buffer, true);
        in.run_loop(*stmt, a.positional[0], scope, depth + 1);
        return Value(std::move(buffer));
      }});
    }
    iteration->vars["loop"] = loop;
    Flow f = exec_body(s.body, iteration);
    if (f == Flow::Break) break;
  }
  return Flow::Normal;
}

Value Interpreter::make_macro(const Stmt& s, const ScopePtr& scope, const Value& caller) {
  const Stmt* stmt = &s;
  if (cyclic_scopes_.empty() || cyclic_scopes_.back().lock() != scope) {
    // The scope lives until the render ends: count it (and its slot here).
    charge_memory(sizeof(Scope) + sizeof(std::weak_ptr<Scope>) + 64);
    cyclic_scopes_.push_back(scope);
  }
  return Value::function(s.name, [stmt, scope, caller](CallArgs& args, Interpreter& in) {
    return in.invoke_macro(*stmt, scope, caller, args);
  });
}

Value Interpreter::invoke_macro(const Stmt& s, const ScopePtr& defining, const Value& caller, CallArgs& args) {
  DepthGuard guard(call_depth_, options_.limits.max_depth, "maximum macro recursion depth exceeded");
  std::string name = s.kind == StmtKind::Macro ? s.name : "caller";
  auto scope = std::make_shared<Scope>();
  scope->parent = defining;
  if (args.positional.size() > s.params.size())
    throw runtime_error("macro '" + name + "' takes not more than " + std::to_string(s.params.size()) +
                        " argument(s)");
  Value caller_value = caller;
  for (auto& [key, value] : args.keyword) {
    if (key == "caller") {
      caller_value = value;
      continue;
    }
    bool known = false;
    for (auto& p : s.params) known = known || p.name == key;
    if (!known) throw runtime_error("macro '" + name + "' has no argument named '" + key + "'");
  }
  for (size_t i = 0; i < s.params.size(); ++i) {
    const MacroParam& p = s.params[i];
    if (const Value* v = args.get(i, p.name.c_str()))
      scope->vars[p.name] = *v;
    else if (p.default_value)
      scope->vars[p.name] = eval(*p.default_value, scope);
    else
      scope->vars[p.name] = Value::undefined("parameter '" + p.name + "' was not provided");
  }
  if (!caller_value.is_undefined()) scope->vars["caller"] = caller_value;
  return Value(capture(s.body, scope));
}

// --------------------------------------------------------------- expressions

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.is_dict() && callee.as_dict().call) {
    step();
    return callee.as_dict().call->fn(args, *this);
  }

  if (!callee.is_callable()) throw runtime_error("'" + callee.type_name() + "' object is not callable");
  step();
  return callee.as_callable().fn(args, *this);
}

Value Interpreter::apply_filter(const std::string& name, const Value& target, CallArgs& args) {
  FilterFn fn = find_filter(name);
  if (!fn) throw runtime_error("No filter named '" + name + "'.");
  step();
  return fn(*this, target, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& target, CallArgs& args) {
  TestFn fn = find_test(name);
  if (!fn) throw runtime_error("No test named '" + name + "'.");
  step();
  return fn(*this, target, args);
}

CallArgs Interpreter::eval_args(const std::vector<Arg>& args, const ScopePtr& scope) {
  CallArgs out;
  for (auto& a : args) {
    if (a.name == "*") {
      Value items = eval(*a.value, scope);
      if (!items.is_list() && !items.is_string() && !items.is_dict() && !items.is_undefined())
        throw runtime_error("Value after * must be an iterable, not " + items.type_name());
      for (auto& item : iterate(items)) out.positional.push_back(item);
    } else if (a.name == "**") {
      Value mapping = eval(*a.value, scope);
      if (!mapping.is_dict() || mapping.as_dict().is_namespace)
        throw runtime_error("argument after ** must be a mapping, not " + mapping.type_name());
      for (auto& [k, v] : mapping.as_dict().items) {
        if (!k.is_string()) throw runtime_error("keywords must be strings");
        out.keyword.emplace_back(k.as_string(), v);
      }
    } else if (a.name.empty()) {
      if (!out.keyword.empty()) throw runtime_error("positional argument follows keyword argument");
      out.positional.push_back(eval(*a.value, scope));
    } else {
      out.keyword.emplace_back(a.name, eval(*a.value, scope));
    }
  }
  return out;
}

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
  try {
    DepthGuard guard(depth_, kMaxEvalDepth, "template nested too deeply");
    return eval_inner(e, scope);
  } catch (const allm::Error&) {
    throw;
  } catch (const std::exception& ex) {
    fail(e.pos, ex.what());
  }
}

Value Interpreter::eval_inner(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case ExprKind::Literal: return e.value;
    case ExprKind::Name: return lookup(e.name, scope);
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (auto& item : e.items) items.push_back(eval(*item, scope));
      return Value::list(std::move(items), e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      Value d = Value::dict();
      for (auto& [k, v] : e.pairs) {
        Value key = eval(*k, scope);
        if (key.is_list() && !key.as_list().tuple) throw runtime_error("unhashable type: 'list'");
        if (key.is_dict()) throw runtime_error("unhashable type: 'dict'");
        d.as_dict().set(key, eval(*v, scope));
      }
      return d;
    }
    case ExprKind::Attr: return get_attr(eval(*e.target, scope), e.name);
    case ExprKind::Subscript: {
      Value target = eval(*e.target, scope);
      return get_item(target, eval(*e.right, scope));
    }
    case ExprKind::Slice: {
      Value target = eval(*e.target, scope);
      Value parts[3];
      const Value* ptrs[3] = {nullptr, nullptr, nullptr};
      for (int i = 0; i < 3; ++i)
        if (e.items[static_cast<size_t>(i)]) {
          parts[i] = eval(*e.items[static_cast<size_t>(i)], scope);
          ptrs[i] = &parts[i];
        }
      return get_slice(target, ptrs[0], ptrs[1], ptrs[2], size_limit());
    }
    case ExprKind::Call: {
      Value callee = eval(*e.target, scope);
      CallArgs args = eval_args(e.args, scope);
      return call(callee, args);
    }
    case ExprKind::Filter: {
      // Only reachable for a filter unknown at parse time inside an `if` or
      // an inline if: Jinja 3 raises when it is reached, with this message.
      if (!find_filter(e.name)) throw runtime_error("No filter named '" + e.name + "' found.");
      Value target = eval(*e.target, scope);
      CallArgs args = eval_args(e.args, scope);
      return apply_filter(e.name, target, args);
    }
    case ExprKind::Test: {
      if (!find_test(e.name)) throw runtime_error("No test named '" + e.name + "' found.");
      Value target = eval(*e.target, scope);
      CallArgs args = eval_args(e.args, scope);
      bool r = apply_test(e.name, target, args);
      return Value(e.negated ? !r : r);
    }
    case ExprKind::Unary: return unary_op(e.name, eval(*e.target, scope));
    case ExprKind::Binary: {
      Value left = eval(*e.left, scope);
      Value right = eval(*e.right, scope);
      return binary_op(e.name, left, right, size_limit());
    }
    case ExprKind::Compare: {
      Value left = eval(*e.items[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.items[i + 1], scope);
        if (!compare(e.ops[i], left, right)) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::And: {
      Value left = eval(*e.left, scope);
      return left.truthy() ? eval(*e.right, scope) : left;
    }
    case ExprKind::Or: {
      Value left = eval(*e.left, scope);
      return left.truthy() ? left : eval(*e.right, scope);
    }
    case ExprKind::Cond:
      if (eval(*e.items[1], scope).truthy()) return eval(*e.items[0], scope);
      if (e.items[2]) return eval(*e.items[2], scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.pos.line) +
                              " evaluated to false and no else section was defined.");
  }
  throw runtime_error("unknown expression");
}

}  // namespace allm::jinja
