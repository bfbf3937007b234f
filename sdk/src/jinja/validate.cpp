#include "jinja/validate.hpp"

#include "jinja/builtins.hpp"
#include "jinja/source_error.hpp"

namespace allm::jinja {
namespace {

// `soft` mirrors Jinja's "soft frame": true inside an `if` statement and an
// inline if-expression, where unknown names are left to run time.
struct Validator {
  const Program& program;

  void expr(const Expr* e, bool soft) {
    if (!e) return;
    if (e->kind == ExprKind::Cond) soft = true;
    if (!soft && e->kind == ExprKind::Filter && !find_filter(e->name))
      fail_at(program.origin, e->pos.line, e->pos.column, "No filter named '" + e->name + "'.");
    if (!soft && e->kind == ExprKind::Test && !find_test(e->name))
      fail_at(program.origin, e->pos.line, e->pos.column, "No test named '" + e->name + "'.");
    expr(e->target.get(), soft);
    expr(e->left.get(), soft);
    expr(e->right.get(), soft);
    for (auto& i : e->items) expr(i.get(), soft);
    for (auto& [k, v] : e->pairs) {
      expr(k.get(), soft);
      expr(v.get(), soft);
    }
    for (auto& a : e->args) expr(a.value.get(), soft);
  }

  void body(const Body& b, bool soft) {
    for (auto& s : b) stmt(*s, soft);
  }

  void stmt(const Stmt& s, bool soft) {
    switch (s.kind) {
      case StmtKind::If:
        for (auto& c : s.conditions) expr(c.get(), true);
        for (auto& b : s.bodies) body(b, true);
        return;
      case StmtKind::For:
        // The iterable belongs to the enclosing frame; the loop's `if`
        // clause, body and else get frames of their own.
        expr(s.expr.get(), soft);
        expr(s.target.get(), false);
        expr(s.filter.get(), false);
        body(s.body, false);
        body(s.else_body, false);
        return;
      case StmtKind::With:
        // The assigned values are evaluated in the enclosing frame.
        for (auto& [n, v] : s.assignments) expr(v.get(), soft);
        body(s.body, false);
        return;
      case StmtKind::Load:
        expr(s.expr.get(), soft);
        return;
      case StmtKind::CallBlock:
        // The call itself is evaluated in the enclosing frame.
        expr(s.expr.get(), soft);
        for (auto& p : s.params) expr(p.default_value.get(), false);
        body(s.body, false);
        return;
      case StmtKind::Set:
      case StmtKind::Output:
        expr(s.expr.get(), soft);
        expr(s.target.get(), soft);
        return;
      default:
        // Macro, call, filter and block-set bodies (and their filters and
        // defaults) are compiled in frames of their own.
        expr(s.expr.get(), false);
        expr(s.target.get(), false);
        expr(s.filter.get(), false);
        for (auto& c : s.conditions) expr(c.get(), false);
        for (auto& f : s.filters) expr(f.get(), false);
        for (auto& p : s.params) expr(p.default_value.get(), false);
        for (auto& [n, v] : s.assignments) expr(v.get(), false);
        for (auto& b : s.bodies) body(b, false);
        body(s.body, false);
        body(s.else_body, false);
    }
  }
};

}  // namespace

void validate_program(const Program& program) { Validator{program}.body(program.body, false); }

}  // namespace allm::jinja
