#include "jinja/parser.hpp"

#include <cerrno>
#include <cstdlib>
#include <set>

#include "jinja/lexer.hpp"
#include "jinja/source_error.hpp"

namespace allm::jinja {
namespace {

// Nesting beyond this is refused so that deeply nested input cannot exhaust
// the stack (parsing and, later, evaluation are recursive).
constexpr int kMaxNesting = 256;

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& origin) : toks_(std::move(tokens)), origin_(origin) {}

  Body parse_all() {
    std::string found;
    return parse_until({}, found);
  }

 private:
  // ---- token helpers ----
  const Token& cur() const { return toks_[i_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  Token next() {
    Token t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  bool is_op(const char* op) const { return cur().kind == Tok::Op && cur().text == op; }
  bool is_name(const char* name) const { return cur().kind == Tok::Name && cur().text == name; }
  static Pos pos_of(const Token& t) { return {t.line, t.column}; }

  [[noreturn]] void fail(const Token& t, const std::string& message) const { fail_at(origin_, t.line, t.column, message); }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::Text: return "text";
      case Tok::VarBegin: return "'{{'";
      case Tok::VarEnd: return "'}}'";
      case Tok::BlockBegin: return "'{%'";
      case Tok::BlockEnd: return "'%}'";
      case Tok::Eof: return "end of template";
      case Tok::String: return "string";
      default: return "'" + t.text + "'";
    }
  }

  void expect_op(const char* op) {
    if (!is_op(op)) fail(cur(), std::string("expected '") + op + "', got " + describe(cur()));
    next();
  }
  std::string expect_name() {
    if (cur().kind != Tok::Name) fail(cur(), "expected a name, got " + describe(cur()));
    return next().text;
  }
  void expect_name(const char* name) {
    if (!is_name(name)) fail(cur(), std::string("expected '") + name + "', got " + describe(cur()));
    next();
  }
  void expect_block_end() {
    if (cur().kind != Tok::BlockEnd) fail(cur(), "expected end of statement '%}', got " + describe(cur()));
    next();
  }

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting) p.fail(p.cur(), "template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  ExprPtr make(ExprKind kind, Pos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }
  StmtPtr make_stmt(StmtKind kind, Pos pos) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->pos = pos;
    return s;
  }

  // ---- statements ----

  // Parses until one of `ends` opens a block tag; leaves the cursor after that
  // tag's name and stores it in `found`.
  Body parse_until(const std::set<std::string>& ends, std::string& found) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.kind == Tok::Eof) {
        if (ends.empty()) return body;
        std::string want;
        for (auto& e : ends) want += (want.empty() ? "'" : " or '") + e + "'";
        fail(t, "unexpected end of template, expected " + want);
      }
      if (t.kind == Tok::Text) {
        auto s = make_stmt(StmtKind::Text, pos_of(t));
        s->text = next().text;
        body.push_back(std::move(s));
      } else if (t.kind == Tok::VarBegin) {
        auto s = make_stmt(StmtKind::Output, pos_of(t));
        next();
        s->expr = parse_tuple(true);
        if (cur().kind != Tok::VarEnd) fail(cur(), "expected end of print statement '}}', got " + describe(cur()));
        next();
        body.push_back(std::move(s));
      } else if (t.kind == Tok::BlockBegin) {
        const Token& name = peek();
        if (name.kind != Tok::Name) fail(name, "expected a statement name, got " + describe(name));
        if (ends.count(name.text)) {
          next();
          found = next().text;
          return body;
        }
        next();
        body.push_back(parse_statement());
      } else {
        fail(t, "unexpected " + describe(t));
      }
    }
  }

  // include / import / from ... import / extends. Jinja compiles them and
  // fails only when one runs (transformers' environment has no loader), so a
  // branch never taken may hold one; the interpreter raises Jinja's error.
  StmtPtr parse_load(const std::string& tag, Pos p) {
    auto s = make_stmt(StmtKind::Load, p);
    s->name = tag;
    s->expr = parse_expression();
    if (tag == "include" && is_name("ignore")) {
      next();
      expect_name("missing");
    }
    if (tag == "import") {
      expect_name("as");
      expect_name();
    }
    if (tag == "from") {
      expect_name("import");
      while (!is_name("with") && !is_name("without")) {
        expect_name();
        if (is_name("as")) {
          next();
          expect_name();
        }
        if (!is_op(",")) break;
        next();
      }
    }
    if (tag != "extends" && (is_name("with") || is_name("without"))) {
      next();
      expect_name("context");
    }
    expect_block_end();
    return s;
  }

  // {% block name [scoped] [required] %}: with no `extends` it renders in
  // place; its body sees the template's top-level variables (and, when
  // `scoped`, the enclosing ones), as Jinja's block functions do.
  StmtPtr parse_block(Pos p) {
    auto s = make_stmt(StmtKind::Block, p);
    Token name_tok = cur();
    s->name = expect_name();
    if (!block_names_.insert(s->name).second) fail(name_tok, "block '" + s->name + "' defined twice");
    bool required = false;
    while (is_name("scoped") || is_name("required")) {
      if (next().text == "scoped") s->scoped = true;
      else required = true;
    }
    expect_block_end();
    int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;  // the body is a function of its own: no break/continue
    std::string found;
    s->body = parse_until({"endblock"}, found);
    loop_depth_ = saved_loop_depth;
    if (cur().kind == Tok::Name) next();  // {% endblock name %}
    expect_block_end();
    if (required)
      for (auto& st : s->body)
        if (st->kind != StmtKind::Text || st->text.find_first_not_of(" \t\r\n") != std::string::npos)
          fail_at(origin_, p.line, p.column, "Required blocks can only contain comments or whitespace");
    return s;
  }

  StmtPtr parse_statement() {
    Token tag = next();
    const std::string& n = tag.text;
    Pos p = pos_of(tag);
    if (n == "if") return parse_if(p);
    if (n == "for") return parse_for(p);
    if (n == "set") return parse_set(p);
    if (n == "macro") return parse_macro(p);
    if (n == "call") return parse_call_block(p);
    if (n == "filter") return parse_filter_block(p);
    if (n == "with") return parse_with(p);
    if (n == "block") return parse_block(p);
    if (n == "generation") {
      auto s = make_stmt(StmtKind::Generation, p);
      expect_block_end();
      std::string found;
      s->body = parse_until({"endgeneration"}, found);
      expect_block_end();
      return s;
    }
    if (n == "break" || n == "continue") {
      if (loop_depth_ == 0) fail(tag, "'" + n + "' outside of a loop");
      expect_block_end();
      return make_stmt(n == "break" ? StmtKind::Break : StmtKind::Continue, p);
    }
    if (n == "include" || n == "import" || n == "from" || n == "extends") return parse_load(n, p);
    fail(tag, "Encountered unknown tag '" + n + "'.");
  }

  StmtPtr parse_if(Pos p) {
    // Jinja parses conditions as tuples without an inline if: `{% if a if b
    // else c %}` is its syntax error, `{% if a, b %}` a (true) tuple.
    auto s = make_stmt(StmtKind::If, p);
    s->conditions.push_back(parse_tuple(false));
    expect_block_end();
    while (true) {
      std::string found;
      s->bodies.push_back(parse_until({"elif", "else", "endif"}, found));
      if (found == "elif") {
        s->conditions.push_back(parse_tuple(false));
        expect_block_end();
      } else if (found == "else") {
        expect_block_end();
        s->bodies.push_back(parse_until({"endif"}, found));
        expect_block_end();
        return s;
      } else {
        expect_block_end();
        return s;
      }
    }
  }

  ExprPtr parse_assign_target(bool allow_attr) {
    Pos p = pos_of(cur());
    auto one = [&]() -> ExprPtr {
      if (is_op("(")) {
        next();
        auto t = parse_assign_target(false);
        expect_op(")");
        return t;
      }
      Token nt = cur();
      auto e = make(ExprKind::Name, pos_of(nt));
      e->name = expect_name();
      if (allow_attr && is_op(".")) {
        next();
        auto a = make(ExprKind::Attr, pos_of(nt));
        a->target = std::move(e);
        a->name = expect_name();
        return a;
      }
      return e;
    };
    auto first = one();
    if (!is_op(",")) return first;
    auto tuple = make(ExprKind::Tuple, p);
    tuple->items.push_back(std::move(first));
    while (is_op(",")) {
      next();
      if (cur().kind != Tok::Name && !is_op("(")) break;
      tuple->items.push_back(one());
    }
    return tuple;
  }

  StmtPtr parse_for(Pos p) {
    auto s = make_stmt(StmtKind::For, p);
    s->target = parse_assign_target(false);
    expect_name("in");
    s->expr = parse_tuple(false);
    if (is_name("if")) {
      next();
      s->filter = parse_expression();
    }
    if (is_name("recursive")) {
      next();
      s->recursive = true;
    }
    expect_block_end();
    ++loop_depth_;
    std::string found;
    s->body = parse_until({"else", "endfor"}, found);
    --loop_depth_;
    if (found == "else") {
      expect_block_end();
      s->else_body = parse_until({"endfor"}, found);
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(Pos p) {
    auto target = parse_assign_target(true);
    if (is_op("=")) {
      next();
      auto s = make_stmt(StmtKind::Set, p);
      s->target = std::move(target);
      s->expr = parse_tuple(true);
      expect_block_end();
      return s;
    }
    auto s = make_stmt(StmtKind::SetBlock, p);
    s->target = std::move(target);
    if (s->target->kind == ExprKind::Tuple) fail(cur(), "a block set assigns one name");
    while (is_op("|")) {
      next();
      s->filters.push_back(parse_filter(nullptr));
    }
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    std::string found;
    s->body = parse_until({"endset"}, found);
    loop_depth_ = saved;
    expect_block_end();
    return s;
  }

  std::vector<MacroParam> parse_params() {
    std::vector<MacroParam> params;
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      MacroParam mp;
      mp.name = expect_name();
      if (is_op("=")) {
        next();
        mp.default_value = parse_expression();
      }
      params.push_back(std::move(mp));
    }
    next();
    return params;
  }

  StmtPtr parse_macro(Pos p) {
    auto s = make_stmt(StmtKind::Macro, p);
    s->name = expect_name();
    s->params = parse_params();
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    std::string found;
    s->body = parse_until({"endmacro"}, found);
    loop_depth_ = saved;
    if (cur().kind == Tok::Name && cur().text == s->name) next();
    expect_block_end();
    return s;
  }

  StmtPtr parse_call_block(Pos p) {
    auto s = make_stmt(StmtKind::CallBlock, p);
    if (is_op("(")) s->params = parse_params();
    s->expr = parse_expression();
    if (s->expr->kind != ExprKind::Call) fail(cur(), "expected a call after 'call'");
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    std::string found;
    s->body = parse_until({"endcall"}, found);
    loop_depth_ = saved;
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block(Pos p) {
    auto s = make_stmt(StmtKind::FilterBlock, p);
    s->filters.push_back(parse_filter(nullptr));
    while (is_op("|")) {
      next();
      s->filters.push_back(parse_filter(nullptr));
    }
    expect_block_end();
    std::string found;
    s->body = parse_until({"endfilter"}, found);
    expect_block_end();
    return s;
  }

  StmtPtr parse_with(Pos p) {
    auto s = make_stmt(StmtKind::With, p);
    while (cur().kind != Tok::BlockEnd) {
      if (!s->assignments.empty()) expect_op(",");
      std::string name = expect_name();
      expect_op("=");
      s->assignments.emplace_back(name, parse_expression());
    }
    expect_block_end();
    std::string found;
    s->body = parse_until({"endwith"}, found);
    expect_block_end();
    return s;
  }

  // ---- expressions (Jinja2 precedence, lowest first) ----

  // `a, b` without parentheses makes a tuple where Jinja allows it.
  ExprPtr parse_tuple(bool with_condexpr, bool allow_tuple = true) {
    Pos p = pos_of(cur());
    auto first = with_condexpr ? parse_expression() : parse_or();
    if (!allow_tuple || !is_op(",")) return first;
    auto t = make(ExprKind::Tuple, p);
    t->items.push_back(std::move(first));
    while (is_op(",")) {
      next();
      if (cur().kind == Tok::BlockEnd || cur().kind == Tok::VarEnd || is_op(")") || is_name("if")) break;
      t->items.push_back(with_condexpr ? parse_expression() : parse_or());
    }
    return t;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    Pos p = pos_of(cur());
    auto expr = parse_or();
    while (is_name("if")) {
      next();
      auto cond = make(ExprKind::Cond, p);
      auto test = parse_or();
      ExprPtr otherwise;
      if (is_name("else")) {
        next();
        otherwise = parse_expression();
      }
      cond->items.push_back(std::move(expr));
      cond->items.push_back(std::move(test));
      cond->items.push_back(std::move(otherwise));
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr parse_or() {
    auto left = parse_and();
    while (is_name("or")) {
      Pos p = pos_of(next());
      auto e = make(ExprKind::Or, p);
      e->left = std::move(left);
      e->right = parse_and();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_and() {
    auto left = parse_not();
    while (is_name("and")) {
      Pos p = pos_of(next());
      auto e = make(ExprKind::And, p);
      e->left = std::move(left);
      e->right = parse_not();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      Pos p = pos_of(next());
      auto e = make(ExprKind::Unary, p);
      e->name = "not";
      e->target = parse_not();
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    Pos p = pos_of(cur());
    auto first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().kind == Tok::Op &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" || cur().text == ">" ||
           cur().text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && peek().kind == Tok::Name && peek().text == "in") {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ExprKind::Compare, p);
        cmp->items.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr binary(ExprPtr left, const std::string& op, ExprPtr right, Pos p) {
    auto e = make(ExprKind::Binary, p);
    e->name = op;
    e->left = std::move(left);
    e->right = std::move(right);
    return e;
  }

  ExprPtr parse_math1() {
    auto left = parse_concat();
    while (is_op("+") || is_op("-")) {
      Token t = next();
      left = binary(std::move(left), t.text, parse_concat(), pos_of(t));
    }
    return left;
  }

  ExprPtr parse_concat() {
    auto left = parse_math2();
    while (is_op("~")) {
      Token t = next();
      left = binary(std::move(left), "~", parse_math2(), pos_of(t));
    }
    return left;
  }

  ExprPtr parse_math2() {
    auto left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      Token t = next();
      left = binary(std::move(left), t.text, parse_pow(), pos_of(t));
    }
    return left;
  }

  ExprPtr parse_pow() {
    auto left = parse_unary(true);
    while (is_op("**")) {
      Token t = next();
      left = binary(std::move(left), "**", parse_unary(true), pos_of(t));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      Token t = next();
      node = make(ExprKind::Unary, pos_of(t));
      node->name = t.text;
      node->target = parse_unary(false);
    } else {
      node = parse_postfix(parse_primary());
    }
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    Pos p = pos_of(t);
    switch (t.kind) {
      case Tok::Name: {
        std::string n = next().text;
        if (n == "true" || n == "True" || n == "false" || n == "False") {
          auto e = make(ExprKind::Literal, p);
          e->value = Value(n == "true" || n == "True");
          return e;
        }
        if (n == "none" || n == "None") {
          auto e = make(ExprKind::Literal, p);
          e->value = Value::none();
          return e;
        }
        auto e = make(ExprKind::Name, p);
        e->name = n;
        return e;
      }
      case Tok::String: {
        std::string s = next().text;
        while (cur().kind == Tok::String) s += next().text;
        auto e = make(ExprKind::Literal, p);
        e->value = Value(std::move(s));
        return e;
      }
      case Tok::Integer: {
        std::string text = next().text;
        errno = 0;
        long long v = std::strtoll(text.c_str(), nullptr, 10);
        if (errno == ERANGE) fail(t, "integer literal out of range");
        auto e = make(ExprKind::Literal, p);
        e->value = Value(static_cast<int64_t>(v));
        return e;
      }
      case Tok::Float: {
        auto e = make(ExprKind::Literal, p);
        e->value = Value(std::strtod(next().text.c_str(), nullptr));
        return e;
      }
      case Tok::Op:
        if (t.text == "(") {
          next();
          if (is_op(")")) {
            next();
            return make(ExprKind::Tuple, p);
          }
          auto first = parse_expression();
          if (is_op(")")) {
            next();
            return first;
          }
          auto tuple = make(ExprKind::Tuple, p);
          tuple->items.push_back(std::move(first));
          while (is_op(",")) {
            next();
            if (is_op(")")) break;
            tuple->items.push_back(parse_expression());
          }
          expect_op(")");
          return tuple;
        }
        if (t.text == "[") {
          next();
          auto list = make(ExprKind::List, p);
          while (!is_op("]")) {
            if (!list->items.empty()) expect_op(",");
            if (is_op("]")) break;
            list->items.push_back(parse_expression());
          }
          next();
          return list;
        }
        if (t.text == "{") {
          next();
          auto dict = make(ExprKind::Dict, p);
          while (!is_op("}")) {
            if (!dict->pairs.empty()) expect_op(",");
            if (is_op("}")) break;
            auto key = parse_expression();
            expect_op(":");
            dict->pairs.emplace_back(std::move(key), parse_expression());
          }
          next();
          return dict;
        }
        break;
      default: break;
    }
    fail(t, "unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        Token dot = next();
        if (cur().kind == Tok::Integer) {
          auto e = make(ExprKind::Subscript, pos_of(dot));
          e->target = std::move(node);
          auto idx = make(ExprKind::Literal, pos_of(cur()));
          idx->value = Value(static_cast<int64_t>(std::strtoll(next().text.c_str(), nullptr, 10)));
          e->right = std::move(idx);
          node = std::move(e);
        } else {
          auto e = make(ExprKind::Attr, pos_of(dot));
          e->target = std::move(node);
          e->name = expect_name();
          node = std::move(e);
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr target) {
    Pos p = pos_of(next());
    ExprPtr start, stop, step;
    if (!is_op(":")) {
      start = parse_expression();
      if (is_op("]")) {
        next();
        auto e = make(ExprKind::Subscript, p);
        e->target = std::move(target);
        e->right = std::move(start);
        return e;
      }
    }
    expect_op(":");
    if (!is_op("]") && !is_op(":")) stop = parse_expression();
    if (is_op(":")) {
      next();
      if (!is_op("]")) step = parse_expression();
    }
    expect_op("]");
    auto e = make(ExprKind::Slice, p);
    e->target = std::move(target);
    e->items.push_back(std::move(start));
    e->items.push_back(std::move(stop));
    e->items.push_back(std::move(step));
    return e;
  }

  std::vector<Arg> parse_args() {
    expect_op("(");
    std::vector<Arg> args;
    // Jinja's order: positional, *iterable, keyword=value and **mapping
    // (keywords may also precede **mapping); anything else is its syntax error.
    bool star = false, star_star = false, keyword = false;
    while (!is_op(")")) {
      if (!args.empty()) expect_op(",");
      if (is_op(")")) break;
      Arg a;
      auto ensure = [&](bool ok) {
        if (!ok) fail(cur(), "invalid syntax for function call expression");
      };
      if (cur().kind == Tok::Name && peek().kind == Tok::Op && peek().text == "=") {
        ensure(!star_star);
        keyword = true;
        a.name = next().text;
        next();
      } else if (is_op("*")) {
        ensure(!star && !star_star);
        star = true;
        a.name = next().text;  // "*": spread into the positional arguments
      } else if (is_op("**")) {
        ensure(!star_star);
        star_star = true;
        a.name = next().text;  // "**": spread into the keyword arguments
      } else {
        ensure(!star && !star_star && !keyword);
      }
      a.value = parse_expression();
      args.push_back(std::move(a));
    }
    next();
    return args;
  }

  ExprPtr parse_call(ExprPtr target) {
    auto e = make(ExprKind::Call, target->pos);  // errors point at the callee
    e->target = std::move(target);
    e->args = parse_args();
    return e;
  }

  ExprPtr parse_filter(ExprPtr target) {
    Token t = cur();
    auto e = make(ExprKind::Filter, pos_of(t));
    e->name = expect_name();
    while (is_op(".")) {
      next();
      e->name += "." + expect_name();
    }
    e->target = std::move(target);
    if (is_op("(")) e->args = parse_args();
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        next();
        node = parse_filter(std::move(node));
      } else if (is_name("is")) {
        Token t = next();
        auto e = make(ExprKind::Test, pos_of(t));
        if (is_name("not")) {
          next();
          e->negated = true;
        }
        e->name = expect_name();
        e->target = std::move(node);
        if (is_op("(")) {
          e->args = parse_args();
        } else if ((cur().kind == Tok::Name || cur().kind == Tok::String || cur().kind == Tok::Integer ||
                    cur().kind == Tok::Float || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail(cur(), "You cannot chain multiple tests with is");
          Arg a;
          a.value = parse_postfix(parse_primary());
          e->args.push_back(std::move(a));
        }
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> toks_;
  const std::string& origin_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::set<std::string> block_names_;
};

}  // namespace

std::shared_ptr<Program> parse_program(std::string source, std::string origin) {
  auto program = std::make_shared<Program>();
  program->source = std::move(source);
  program->origin = std::move(origin);
  Parser parser(tokenize(program->source, program->origin), program->origin);
  program->body = parser.parse_all();
  return program;
}

}  // namespace allm::jinja
