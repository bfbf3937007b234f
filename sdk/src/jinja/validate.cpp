#include "jinja/validate.hpp"

#include "jinja/builtins.hpp"
#include "jinja/source_error.hpp"

namespace allm::jinja {
namespace {

struct Validator {
  const Program& program;

  void expr(const Expr* e) {
    if (!e) return;
    if (e->kind == ExprKind::Filter && !find_filter(e->name))
      fail_at(program.origin, e->pos.line, e->pos.column, "No filter named '" + e->name + "'.");
    if (e->kind == ExprKind::Test && !find_test(e->name))
      fail_at(program.origin, e->pos.line, e->pos.column, "No test named '" + e->name + "'.");
    expr(e->target.get());
    expr(e->left.get());
    expr(e->right.get());
    for (auto& i : e->items) expr(i.get());
    for (auto& [k, v] : e->pairs) {
      expr(k.get());
      expr(v.get());
    }
    for (auto& a : e->args) expr(a.value.get());
  }

  void body(const Body& b) {
    for (auto& s : b) stmt(*s);
  }

  void stmt(const Stmt& s) {
    expr(s.expr.get());
    expr(s.target.get());
    expr(s.filter.get());
    for (auto& c : s.conditions) expr(c.get());
    for (auto& f : s.filters) expr(f.get());
    for (auto& p : s.params) expr(p.default_value.get());
    for (auto& [n, v] : s.assignments) expr(v.get());
    for (auto& b : s.bodies) body(b);
    body(s.body);
    body(s.else_body);
  }
};

}  // namespace

void validate_program(const Program& program) { Validator{program}.body(program.body); }

}  // namespace allm::jinja
