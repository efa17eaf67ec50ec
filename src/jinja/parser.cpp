#include "jinja/parser.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "jinja/builtins.h"
#include "jinja/error.h"

namespace mmfree::jinja {

namespace {

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const Limits& limits) : t_(tokens), limits_(limits) {}

  std::vector<Stmt> run() {
    std::string end;
    std::vector<Stmt> body = block({}, end);
    return body;
  }

 private:
  // Counts nesting while a statement or expression is parsed within it.
  class Nest {
   public:
    explicit Nest(Parser& p) : p_(p) {
      if (++p_.depth_ > p_.limits_.max_nesting) p_.fail("blocks and expressions nested deeper than " + std::to_string(p_.limits_.max_nesting));
    }
    ~Nest() { --p_.depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser& p_;
  };

  const Token& cur() const { return t_[i_]; }
  bool at_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
  bool at_name(const char* name) const { return cur().type == Tok::Name && cur().text == name; }
  const Token& next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }

  [[noreturn]] void fail(const std::string& what) const { fail_at(cur(), what); }
  [[noreturn]] static void fail_at(const Token& at, const std::string& what) {
    throw Error(at.line, "column " + std::to_string(at.column) + ": " + what);
  }
  std::string describe(const Token& k) const {
    switch (k.type) {
      case Tok::Text: return "text";
      case Tok::VarBegin: return "'{{'";
      case Tok::VarEnd: return "'}}'";
      case Tok::BlockBegin: return "'{%'";
      case Tok::BlockEnd: return "'%}'";
      case Tok::Name: return "'" + k.text + "'";
      case Tok::String: return "a string";
      case Tok::Int: return "a number";
      case Tok::Op: return "'" + k.text + "'";
      case Tok::End: return "the end of the template";
    }
    return "?";
  }
  void expect_op(const char* op) {
    if (!at_op(op)) fail(std::string("expected '") + op + "', found " + describe(cur()));
    next();
  }
  void expect(Tok type, const char* what) {
    if (cur().type != type) fail(std::string("expected ") + what + ", found " + describe(cur()));
    next();
  }
  std::string expect_name(const char* what) {
    if (cur().type != Tok::Name) fail(std::string("expected ") + what + ", found " + describe(cur()));
    return next().text;
  }

  // Statements up to a block tag whose name is in `ends` (left in `end`, its `{%` and name read);
  // with no `ends`, up to the end of the template.
  std::vector<Stmt> block(const std::set<std::string>& ends, std::string& end) {
    std::vector<Stmt> body;
    for (;;) {
      const Token& k = cur();
      if (k.type == Tok::End) {
        if (!ends.empty()) fail("the template ends inside a block: expected " + list(ends));
        return body;
      }
      if (k.type == Tok::Text) {
        body.push_back(stmt(StmtKind::Text, k.line));
        body.back().text = k.text;
        next();
        continue;
      }
      if (k.type == Tok::VarBegin) {
        next();
        Stmt s = stmt(StmtKind::Output, k.line);
        s.expr = expression();
        expect(Tok::VarEnd, "'}}'");
        body.push_back(std::move(s));
        continue;
      }
      if (k.type != Tok::BlockBegin) fail("unexpected " + describe(k));
      next();
      const Token& name = cur();
      const std::string tag = expect_name("a tag name after '{%'");
      if (ends.count(tag)) {
        end = tag;
        return body;
      }
      body.push_back(statement(name));
    }
  }

  static std::string list(const std::set<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "'" : " or '") + n + "'";
    return s;
  }

  Stmt statement(const Token& name) {
    Nest nest(*this);
    const std::string& tag = name.text;
    const int line = name.line;
    if (tag == "if") return if_statement(line);
    if (tag == "for") return for_statement(line);
    if (tag == "set") return set_statement(line);
    if (tag == "macro") return macro_statement(line);
    if (tag == "break" || tag == "continue") {
      if (loops_ == 0) fail("'" + tag + "' outside a for loop");
      expect(Tok::BlockEnd, "'%}'");
      return stmt(tag == "break" ? StmtKind::Break : StmtKind::Continue, line);
    }
    static const std::set<std::string> closers = {"elif", "else", "endif", "endfor", "endset", "endmacro"};
    if (closers.count(tag)) fail_at(name, "'" + tag + "' without a block it closes");
    fail_at(name, "the tag '" + tag + "' is not supported by this template engine (it knows if, for, set, macro, break, continue)");
  }

  Stmt if_statement(int line) {
    Stmt s = stmt(StmtKind::If, line);
    ExprPtr cond = expression();
    for (;;) {
      expect(Tok::BlockEnd, "'%}'");
      std::string end;
      std::vector<Stmt> body = block({"elif", "else", "endif"}, end);
      s.branches.emplace_back(std::move(cond), std::move(body));
      if (end == "endif") break;
      if (end == "else") {
        expect(Tok::BlockEnd, "'%}'");
        s.branches.emplace_back(nullptr, block({"endif"}, end));
        break;
      }
      cond = expression();
    }
    expect(Tok::BlockEnd, "'%}'");
    return s;
  }

  Stmt for_statement(int line) {
    Stmt s = stmt(StmtKind::For, line);
    s.targets.push_back(expect_name("a loop variable"));
    while (at_op(",")) {
      next();
      s.targets.push_back(expect_name("a loop variable"));
    }
    if (s.targets.size() > 2) fail("a for loop unpacks at most two variables here");
    if (!at_name("in")) fail("expected 'in', found " + describe(cur()));
    next();
    s.expr = or_expr();  // `if` after the iterable filters the loop
    if (at_name("if")) {
      next();
      s.filter = expression();
    }
    if (at_name("recursive")) fail("recursive loops are not supported by this template engine");
    expect(Tok::BlockEnd, "'%}'");
    ++loops_;
    std::string end;
    s.body = block({"else", "endfor"}, end);
    --loops_;
    if (end == "else") {
      expect(Tok::BlockEnd, "'%}'");
      s.else_body = block({"endfor"}, end);
    }
    expect(Tok::BlockEnd, "'%}'");
    return s;
  }

  // {% macro name(a, b=default) %}body{% endmacro %}
  Stmt macro_statement(int line) {
    Stmt s = stmt(StmtKind::Macro, line);
    s.targets.push_back(expect_name("a macro name"));
    expect_op("(");
    while (!at_op(")")) {
      s.targets.push_back(expect_name("a parameter name"));
      if (at_op("=")) {
        next();
        s.defaults.push_back(expression());
      } else {
        if (!s.defaults.empty() && s.defaults.back()) fail("a parameter without a default after one with a default");
        s.defaults.push_back(nullptr);
      }
      if (!at_op(",")) break;
      next();
    }
    expect_op(")");
    expect(Tok::BlockEnd, "'%}'");
    const int loops = loops_;
    loops_ = 0;  // break and continue do not reach out of a macro
    std::string end;
    s.body = block({"endmacro"}, end);
    loops_ = loops;
    if (cur().type == Tok::Name) next();  // {% endmacro name %}
    expect(Tok::BlockEnd, "'%}'");
    return s;
  }

  Stmt set_statement(int line) {
    Stmt s = stmt(StmtKind::Set, line);
    s.targets.push_back(expect_name("a variable name"));
    if (at_op(".")) {
      next();
      s.targets.push_back(expect_name("an attribute name"));
    }
    if (at_op(",")) fail("'set' of several variables at once is not supported by this template engine");
    if (cur().type == Tok::BlockEnd) fail("block 'set' (with 'endset') is not supported by this template engine");
    expect_op("=");
    s.expr = expression();
    expect(Tok::BlockEnd, "'%}'");
    return s;
  }

  static Stmt stmt(StmtKind kind, int line) {
    Stmt s;
    s.kind = kind;
    s.line = line;
    return s;
  }

  ExprPtr make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }
  ExprPtr make(ExprKind kind, int line, ExprPtr a, ExprPtr b = nullptr) {
    ExprPtr e = make(kind, line);
    attach(*e, std::move(a));
    if (b) attach(*e, std::move(b));
    return e;
  }
  // Adds an operand (null: an absent slice bound). Chains such as a + b + c ... or a.b.c ... are
  // parsed without recursion, so the depth of the tree (which rendering recurses over) is bounded here.
  void attach(Expr& parent, ExprPtr child, std::string keyword = {}) {
    if (child) {
      parent.depth = std::max(parent.depth, child->depth + 1);
      if (parent.depth > limits_.max_nesting) fail("an expression nested deeper than " + std::to_string(limits_.max_nesting) + " levels");
    }
    if (keyword.empty()) {
      parent.args.push_back(std::move(child));
    } else {
      parent.kwargs.emplace_back(std::move(keyword), std::move(child));
    }
  }

  // expression := or_expr ['if' or_expr ['else' expression]]
  ExprPtr expression() {
    Nest nest(*this);
    ExprPtr e = or_expr();
    if (!at_name("if")) return e;
    const int line = cur().line;
    next();
    ExprPtr cond = or_expr();
    ExprPtr otherwise;
    if (at_name("else")) {
      next();
      otherwise = expression();
    }
    ExprPtr c = make(ExprKind::Cond, line, std::move(e), std::move(cond));
    attach(*c, std::move(otherwise));
    return c;
  }

  ExprPtr or_expr() {
    ExprPtr e = and_expr();
    while (at_name("or")) {
      const int line = next().line;
      e = make(ExprKind::Or, line, std::move(e), and_expr());
    }
    return e;
  }

  ExprPtr and_expr() {
    ExprPtr e = not_expr();
    while (at_name("and")) {
      const int line = next().line;
      e = make(ExprKind::And, line, std::move(e), not_expr());
    }
    return e;
  }

  ExprPtr not_expr() {
    if (!at_name("not")) return compare();
    Nest nest(*this);
    const int line = next().line;
    return make(ExprKind::Not, line, not_expr());
  }

  ExprPtr compare() {
    ExprPtr first = concat();
    ExprPtr c;
    for (;;) {
      std::string op;
      if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
                                    cur().text == ">" || cur().text == ">=")) {
        op = next().text;
      } else if (at_name("in")) {
        next();
        op = "in";
      } else if (at_name("not") && i_ + 1 < t_.size() && t_[i_ + 1].type == Tok::Name && t_[i_ + 1].text == "in") {
        next();
        next();
        op = "notin";
      } else {
        break;
      }
      if (!c) {
        const int line = first->line;
        c = make(ExprKind::Compare, line, std::move(first));
      }
      c->ops.push_back(op);
      attach(*c, concat());
    }
    return c ? std::move(c) : std::move(first);
  }

  ExprPtr binary_chain(const std::set<std::string>& ops, ExprPtr (Parser::*operand)()) {
    ExprPtr e = (this->*operand)();
    while (cur().type == Tok::Op && ops.count(cur().text)) {
      const Token& op = next();
      ExprPtr b = make(ExprKind::Binary, op.line, std::move(e), (this->*operand)());
      b->name = op.text;
      e = std::move(b);
    }
    return e;
  }
  ExprPtr concat() { return binary_chain({"~"}, &Parser::math1); }
  ExprPtr math1() { return binary_chain({"+", "-"}, &Parser::math2); }
  ExprPtr math2() { return binary_chain({"*", "/", "//", "%"}, &Parser::power); }
  ExprPtr power() { return binary_chain({"**"}, &Parser::unary_with_filters); }
  ExprPtr unary_with_filters() { return unary(true); }

  // As Jinja: `-x` negates its operand before postfixes and filters apply to the result.
  ExprPtr unary(bool with_filters) {
    Nest nest(*this);
    ExprPtr e;
    if (at_op("-") || at_op("+")) {
      const Token& op = next();
      e = op.text == "-" ? make(ExprKind::Neg, op.line, unary(false)) : unary(false);
    } else {
      e = primary();
    }
    e = postfix(std::move(e));
    return with_filters ? filters(std::move(e)) : std::move(e);
  }

  ExprPtr primary() {
    const Token& k = cur();
    if (k.type == Tok::Name) {
      next();
      if (k.text == "true" || k.text == "True") return literal(Value::boolean(true), k.line);
      if (k.text == "false" || k.text == "False") return literal(Value::boolean(false), k.line);
      if (k.text == "none" || k.text == "None") return literal(Value::none(), k.line);
      ExprPtr e = make(ExprKind::Name, k.line);
      e->name = k.text;
      return e;
    }
    if (k.type == Tok::String) {
      std::string s;
      while (cur().type == Tok::String) s += next().text;  // adjacent strings join, as in Python
      return literal(Value::string(std::move(s)), k.line);
    }
    if (k.type == Tok::Int) {
      int64_t v = 0;
      const auto [end, ec] = std::from_chars(k.text.data(), k.text.data() + k.text.size(), v);
      if (ec != std::errc() || end != k.text.data() + k.text.size()) fail("the number " + k.text + " does not fit in 64 bits");
      next();
      return literal(Value::integer(v), k.line);
    }
    if (at_op("(")) {
      next();
      if (at_op(")")) fail("an empty tuple '()' is not supported by this template engine");
      ExprPtr e = expression();
      if (at_op(",")) {  // a tuple: a list here
        ExprPtr l = make(ExprKind::List, k.line, std::move(e));
        while (at_op(",")) {
          next();
          if (at_op(")")) break;
          attach(*l, expression());
        }
        e = std::move(l);
      }
      expect_op(")");
      return e;
    }
    if (at_op("[")) {
      next();
      ExprPtr l = make(ExprKind::List, k.line);
      while (!at_op("]")) {
        attach(*l, expression());
        if (!at_op(",")) break;
        next();
      }
      expect_op("]");
      return l;
    }
    if (at_op("{")) {
      next();
      ExprPtr d = make(ExprKind::Dict, k.line);
      while (!at_op("}")) {
        attach(*d, expression());
        expect_op(":");
        attach(*d, expression());
        if (!at_op(",")) break;
        next();
      }
      expect_op("}");
      return d;
    }
    fail("expected a value, found " + describe(k));
  }

  ExprPtr literal(Value v, int line) {
    ExprPtr e = make(ExprKind::Literal, line);
    e->literal = std::move(v);
    return e;
  }

  ExprPtr postfix(ExprPtr e) {
    for (;;) {
      if (at_op(".")) {
        const int line = next().line;
        if (cur().type == Tok::Int) {  // x.0 is x[0]
          ExprPtr index = primary();
          e = make(ExprKind::Item, line, std::move(e), std::move(index));
        } else {
          ExprPtr a = make(ExprKind::Attr, line, std::move(e));
          a->name = expect_name("an attribute name after '.'");
          e = std::move(a);
        }
      } else if (at_op("[")) {
        e = subscript(std::move(e));
      } else if (at_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr subscript(ExprPtr obj) {
    Nest nest(*this);
    const int line = next().line;
    ExprPtr parts[3];
    int part = 0;
    bool is_slice = false;
    for (;;) {
      if (at_op(":")) {
        if (++part > 2) fail("a slice has at most three parts");
        is_slice = true;
        next();
        continue;
      }
      if (at_op("]")) break;
      if (parts[part]) fail("expected ':' or ']', found " + describe(cur()));
      parts[part] = expression();
    }
    next();
    if (!is_slice) {
      if (!parts[0]) fail("an empty subscript '[]'");
      return make(ExprKind::Item, line, std::move(obj), std::move(parts[0]));
    }
    ExprPtr s = make(ExprKind::Slice, line, std::move(obj));
    for (ExprPtr& p : parts) attach(*s, std::move(p));
    return s;
  }

  // (positional..., name=value...) after the callee; into e->args (after what is there) and e->kwargs.
  void call_args(Expr& e) {
    expect_op("(");
    while (!at_op(")")) {
      if (at_op("*") || at_op("**")) fail("'*args' and '**kwargs' are not supported by this template engine");
      if (cur().type == Tok::Name && i_ + 1 < t_.size() && t_[i_ + 1].type == Tok::Op && t_[i_ + 1].text == "=") {
        std::string name = next().text;
        next();
        attach(e, expression(), std::move(name));
      } else {
        if (!e.kwargs.empty()) fail("a positional argument after a keyword argument");
        attach(e, expression());
      }
      if (!at_op(",")) break;
      next();
    }
    expect_op(")");
  }

  ExprPtr call(ExprPtr callee) {
    Nest nest(*this);
    const int line = callee->line;
    ExprPtr c = make(ExprKind::Call, line, std::move(callee));
    call_args(*c);
    return c;
  }

  ExprPtr filters(ExprPtr e) {
    for (;;) {
      if (at_op("|")) {
        Nest nest(*this);
        const int line = next().line;
        ExprPtr f = make(ExprKind::Filter, line, std::move(e));
        const Token& name = cur();
        f->name = expect_name("a filter name after '|'");
        if (!is_filter(f->name)) fail_at(name, "the filter '" + f->name + "' is not supported by this template engine");
        if (at_op("(")) call_args(*f);
        e = std::move(f);
      } else if (at_name("is")) {
        Nest nest(*this);
        const int line = next().line;
        ExprPtr t = make(ExprKind::Test, line, std::move(e));
        if (at_name("not")) {
          next();
          t->negated = true;
        }
        // `none`, `true` and `false` are names of tests here, not literals.
        const Token& name = cur();
        t->name = expect_name("a test name after 'is'");
        if (!is_test(t->name)) fail_at(name, "the test '" + t->name + "' is not supported by this template engine");
        if (at_op("(")) {
          call_args(*t);
          if (!t->kwargs.empty()) fail("a test takes no keyword arguments");
        } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int || at_op("[") || at_op("{")) &&
                   !at_name("else") && !at_name("or") && !at_name("and") && !at_name("if") && !at_name("is")) {
          attach(*t, postfix(primary()));  // `x is divisibleby 3`
        }
        e = std::move(t);
      } else if (at_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }

  const std::vector<Token>& t_;
  const Limits& limits_;
  size_t i_ = 0;
  int depth_ = 0, loops_ = 0;
};

}  // namespace

std::vector<Stmt> parse(const std::vector<Token>& tokens, const Limits& limits) { return Parser(tokens, limits).run(); }

}  // namespace mmfree::jinja
