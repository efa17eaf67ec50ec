#pragma once
// The parsed template: statements holding expressions, each with the line it came from.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace mmfree::jinja {

enum class ExprKind {
  Literal,  // literal
  Name,     // name
  List,     // args: the items
  Dict,     // args: key, value, key, value, ...
  Attr,     // args[0].name
  Item,     // args[0][args[1]]
  Slice,    // args[0][args[1]:args[2]:args[3]], each of the three may be null
  Call,     // args[0](args[1..], kwargs)
  Filter,   // args[0] | name(args[1..], kwargs)
  Test,     // args[0] is [not] name(args[1..])
  Not,      // not args[0]
  Neg,      // -args[0]
  Binary,   // args[0] name args[1]: + - * / // % ** ~
  Compare,  // args[0] ops[0] args[1] ops[1] args[2] ...: == != < <= > >= in notin
  And,
  Or,
  Cond,     // args[0] if args[1] else args[2] (null: undefined)
};

struct Expr {
  ExprKind kind = ExprKind::Literal;
  int line = 0;
  int depth = 1;  // of this expression's tree
  Value literal;
  std::string name;
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;  // Test: `is not`
};
using ExprPtr = std::unique_ptr<Expr>;

enum class StmtKind { Text, Output, If, For, Set, Break, Continue, Macro };

struct Stmt {
  StmtKind kind = StmtKind::Text;
  int line = 0;
  std::string text;                                    // Text
  ExprPtr expr;                                        // Output, Set: the value; For: the iterable
  std::vector<std::pair<ExprPtr, std::vector<Stmt>>> branches;  // If: condition (null for else) and body
  std::vector<std::string> targets;                    // For: the loop variables; Set: name, or namespace and attribute;
                                                       // Macro: its name, then its parameters
  std::vector<ExprPtr> defaults;                       // Macro: each parameter's default (null: none)
  ExprPtr filter;                                      // For ... if filter
  std::vector<Stmt> body, else_body;                   // For; Macro: body
};

}  // namespace mmfree::jinja
