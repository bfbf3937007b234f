#pragma once
// The parsed template: expression and statement nodes. Every node keeps the
// line/column of its first token for error messages.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.hpp"

namespace allm::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Pos {
  int line = 1;
  int column = 1;
};

struct Arg {
  std::string name;  // empty for positional; "*" / "**" for f(*items) / f(**mapping)
  ExprPtr value;
};

enum class ExprKind {
  Literal,    // value
  Name,       // name
  List,       // items
  Tuple,      // items
  Dict,       // items as key,value pairs
  Attr,       // target.name
  Subscript,  // target[index]
  Slice,      // target[start:stop:step] (items: start, stop, step; null when absent)
  Call,       // target(args)
  Filter,     // target | name(args)
  Test,       // target is [not] name(args)
  Unary,      // op target
  Binary,     // left op right
  Compare,    // chained: items[0] ops[0] items[1] ...
  And,
  Or,
  Cond,       // items: then, condition, else (else may be null)
};

struct Expr {
  ExprKind kind;
  Pos pos;
  Value value;
  std::string name;  // Name/Attr/Filter/Test name, or the operator
  ExprPtr target;
  ExprPtr left, right;
  std::vector<ExprPtr> items;
  std::vector<std::pair<ExprPtr, ExprPtr>> pairs;
  std::vector<std::string> ops;
  std::vector<Arg> args;
  bool negated = false;  // Test: `is not`
};

enum class StmtKind {
  Text,     // text
  Output,   // {{ expr }}
  If,       // branches
  For,
  Set,      // targets = expr
  SetBlock, // {% set x %}body{% endset %} (filters applied in order)
  Macro,
  CallBlock,
  FilterBlock,
  With,
  Break,
  Continue,
  Generation,  // {% generation %}: transformers' assistant-mask marker; renders its body
  Load,        // include / import / from / extends (name: the tag; expr: the template name)
  Block,       // {% block name %}: renders its body in a scope of its own
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct Stmt {
  StmtKind kind;
  Pos pos;
  std::string text;
  ExprPtr expr;  // Output/Set value; For iterable; CallBlock call
  // If: conditions[i] guards bodies[i]; a final body without condition is `else`.
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
  ExprPtr target;     // For/Set target (Name, Tuple of Names, or Attr on a namespace)
  ExprPtr filter;     // For's `if` clause
  std::vector<ExprPtr> filters;  // FilterBlock/SetBlock: Filter nodes (null target), applied in order
  std::string name;   // Macro name
  std::vector<MacroParam> params;               // Macro / CallBlock caller params
  std::vector<std::pair<std::string, ExprPtr>> assignments;  // With
  bool recursive = false;
  bool scoped = false;  // Block: sees the enclosing variables, not just the top level
};

struct Program {
  std::string source;
  std::string origin;
  Body body;
};

}  // namespace allm::jinja
