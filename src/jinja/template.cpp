#include "jinja/template.h"

#include <algorithm>

#include "jinja/ast.h"
#include "jinja/builtins.h"
#include "jinja/lexer.h"
#include "jinja/operators.h"
#include "jinja/parser.h"
#include "jinja/text.h"

namespace mmfree::jinja {

namespace {

enum class Flow { Normal, Break, Continue };

constexpr int kMaxMacroDepth = 16;  // macros calling macros (or themselves)

// One render: the scopes, the output and the budget.
class Renderer {
 public:
  Renderer(const Limits& limits, const Value& variables) : budget_(limits) {
    scopes_.emplace_back();
    for (const std::string& f : function_names()) scopes_[0].emplace_back(f, Value::function(f));
    if (!variables.is(Kind::Dict)) throw Error("the template's variables must be a dict");
    for (const auto& kv : variables.as_dict()) set(kv.first, kv.second);
  }

  std::string run(const std::vector<Stmt>& body) {
    exec(body);
    return std::move(out_);
  }

 private:
  using Scope = std::vector<std::pair<std::string, Value>>;

  void set(const std::string& name, Value v) {
    for (auto& kv : scopes_.back()) {
      if (kv.first == name) {
        kv.second = std::move(v);
        return;
      }
    }
    scopes_.back().emplace_back(name, std::move(v));
  }

  Value lookup(const std::string& name) const {
    for (auto s = scopes_.rbegin(); s != scopes_.rend(); ++s) {
      for (const auto& kv : *s) {
        if (kv.first == name) return kv.second;
      }
    }
    return Value::undefined(name);
  }

  void write(const std::string& s) {
    if (out_.size() + s.size() > budget_.limits().max_output_bytes) {
      throw Error("the rendered text is longer than " + std::to_string(budget_.limits().max_output_bytes) + " bytes");
    }
    budget_.spend(1 + static_cast<int64_t>(s.size() / 64));
    out_ += s;
  }

  Flow exec(const std::vector<Stmt>& body) {
    for (const Stmt& s : body) {
      const Flow f = exec(s);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  // Runs one statement; an error from below without a line gets this statement's.
  Flow exec(const Stmt& s) {
    try {
      return exec_unlocated(s);
    } catch (const Error& e) {
      if (e.line > 0) throw;
      throw Error(s.line, e.detail);
    }
  }

  Flow exec_unlocated(const Stmt& s) {
    budget_.spend(1);
    switch (s.kind) {
      case StmtKind::Text: write(s.text); return Flow::Normal;
      case StmtKind::Output: write(to_str(eval(*s.expr), budget_)); return Flow::Normal;
      case StmtKind::Break: return Flow::Break;
      case StmtKind::Continue: return Flow::Continue;
      case StmtKind::Set: {
        Value v = eval(*s.expr);
        if (s.targets.size() == 1) {
          set(s.targets[0], std::move(v));
          return Flow::Normal;
        }
        const Value ns = lookup(s.targets[0]);
        if (!ns.is(Kind::Namespace)) throw Error("cannot set an attribute of " + kind_name(ns) + " (only of a namespace())");
        ns.set_attribute(s.targets[1], std::move(v));
        return Flow::Normal;
      }
      case StmtKind::If:
        for (const auto& [cond, body] : s.branches) {
          if (!cond || eval(*cond).truthy()) return exec(body);
        }
        return Flow::Normal;
      case StmtKind::For: return loop(s);
      case StmtKind::Macro: set(s.targets[0], Value::macro(s.targets[0], &s)); return Flow::Normal;
    }
    return Flow::Normal;
  }

  void bind_targets(const Stmt& s, const Value& item) {
    if (s.targets.size() == 1) {
      set(s.targets[0], item);
      return;
    }
    if (!item.is(Kind::List) || item.as_list().size() != s.targets.size()) {
      throw Error("cannot unpack " + kind_name(item) + " into " + std::to_string(s.targets.size()) + " loop variables");
    }
    for (size_t i = 0; i < s.targets.size(); ++i) set(s.targets[i], item.as_list()[i]);
  }

  // A loop's body runs in a scope of its own each time: what it sets does not outlive the
  // iteration (Jinja's scoping; namespace() is how templates carry values out).
  Flow loop(const Stmt& s) {
    const List all = iterate(eval(*s.expr), budget_);
    List items;
    for (const Value& item : all) {
      budget_.spend(1);
      if (!s.filter) {
        items.push_back(item);
        continue;
      }
      scopes_.emplace_back();
      bind_targets(s, item);
      const bool keep = eval(*s.filter).truthy();
      scopes_.pop_back();
      if (keep) items.push_back(item);
    }
    if (items.empty()) return exec(s.else_body);
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      budget_.iteration();
      Dict info = {{"index", Value::integer(i + 1)},       {"index0", Value::integer(i)},
                   {"revindex", Value::integer(n - i)},    {"revindex0", Value::integer(n - i - 1)},
                   {"first", Value::boolean(i == 0)},      {"last", Value::boolean(i == n - 1)},
                   {"length", Value::integer(n)}};
      if (i > 0) info.emplace_back("previtem", items[static_cast<size_t>(i - 1)]);
      if (i + 1 < n) info.emplace_back("nextitem", items[static_cast<size_t>(i + 1)]);
      scopes_.emplace_back();
      set("loop", Value::dict(std::move(info)));
      bind_targets(s, items[static_cast<size_t>(i)]);
      const Flow f = exec(s.body);
      scopes_.pop_back();
      if (f == Flow::Break) break;
    }
    return Flow::Normal;
  }

  Value eval(const Expr& e) {
    budget_.spend(1);
    switch (e.kind) {
      case ExprKind::Literal: return e.literal;
      case ExprKind::Name: return lookup(e.name);
      case ExprKind::List: {
        List items;
        for (const ExprPtr& a : e.args) items.push_back(eval(*a));
        return Value::list(std::move(items));
      }
      case ExprKind::Dict: {
        Dict entries;
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value key = eval(*e.args[i]);
          if (!key.is(Kind::String)) throw Error("dict keys must be strings here, not " + kind_name(key));
          Value v = eval(*e.args[i + 1]);
          auto at = std::find_if(entries.begin(), entries.end(), [&](const auto& kv) { return kv.first == key.as_string(); });
          if (at != entries.end()) {
            at->second = std::move(v);
          } else {
            entries.emplace_back(key.as_string(), std::move(v));
          }
        }
        return Value::dict(std::move(entries));
      }
      case ExprKind::Attr: return attribute(eval(*e.args[0]), e.name);
      case ExprKind::Item: {
        const Value obj = eval(*e.args[0]);
        return item(obj, eval(*e.args[1]), budget_);
      }
      case ExprKind::Slice: {
        const Value obj = eval(*e.args[0]);
        const auto part = [&](size_t i) { return e.args[i] ? eval(*e.args[i]) : Value::none(); };
        const Value start = part(1), stop = part(2), step = part(3);
        return slice(obj, start, stop, step, budget_);
      }
      case ExprKind::Call: return call(e);
      case ExprKind::Filter: {
        const Value subject = eval(*e.args[0]);
        Args args;
        Kwargs kwargs;
        arguments(e, args, kwargs);
        return apply_filter(e.name, subject, args, kwargs, budget_);
      }
      case ExprKind::Test: {
        const Value subject = eval(*e.args[0]);
        Args args;
        Kwargs kwargs;
        arguments(e, args, kwargs);
        return Value::boolean(apply_test(e.name, subject, args, budget_) != e.negated);
      }
      case ExprKind::Not: return Value::boolean(!eval(*e.args[0]).truthy());
      case ExprKind::Neg: return negate(eval(*e.args[0]));
      case ExprKind::Binary: {
        const Value a = eval(*e.args[0]);
        return binary(e.name, a, eval(*e.args[1]), budget_);
      }
      case ExprKind::Compare: return Value::boolean(compare(e));
      case ExprKind::And: {  // Python returns the deciding operand
        Value a = eval(*e.args[0]);
        return a.truthy() ? eval(*e.args[1]) : a;
      }
      case ExprKind::Or: {
        Value a = eval(*e.args[0]);
        return a.truthy() ? a : eval(*e.args[1]);
      }
      case ExprKind::Cond:
        if (eval(*e.args[1]).truthy()) return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : Value::undefined("");
    }
    return Value();
  }

  // Chained as in Python: a < b < c is a < b and b < c.
  bool compare(const Expr& e) {
    Value left = eval(*e.args[0]);
    for (size_t i = 0; i < e.ops.size(); ++i) {
      Value right = eval(*e.args[i + 1]);
      const std::string& op = e.ops[i];
      bool ok;
      if (op == "==") ok = equals(left, right, budget_);
      else if (op == "!=") ok = !equals(left, right, budget_);
      else if (op == "in") ok = contains(right, left, budget_);
      else if (op == "notin") ok = !contains(right, left, budget_);
      else ok = ordered(op, left, right, budget_);
      if (!ok) return false;
      left = std::move(right);
    }
    return true;
  }

  // The arguments of a call, filter or test: args[1..] and kwargs.
  void arguments(const Expr& e, Args& args, Kwargs& kwargs) {
    for (size_t i = 1; i < e.args.size(); ++i) args.push_back(eval(*e.args[i]));
    for (const auto& [k, v] : e.kwargs) kwargs.emplace_back(k, eval(*v));
  }

  Value call(const Expr& e) {
    const Expr& callee = *e.args[0];
    Args args;
    Kwargs kwargs;
    if (callee.kind == ExprKind::Attr) {  // a method of a string or dict, else an attribute called
      const Value receiver = eval(*callee.args[0]);
      arguments(e, args, kwargs);
      Value result;
      if (call_method(receiver, callee.name, args, kwargs, budget_, result)) return result;
      return call_value(attribute(receiver, callee.name), callee, args, kwargs);
    }
    const Value f = eval(callee);
    arguments(e, args, kwargs);
    return call_value(f, callee, args, kwargs);
  }

  Value call_value(const Value& f, const Expr& callee, const Args& args, const Kwargs& kwargs) {
    if (f.is(Kind::Function)) return f.macro() ? call_macro(*f.macro(), args, kwargs) : call_function(f, args, kwargs, budget_);
    const std::string what = callee.kind == ExprKind::Name || callee.kind == ExprKind::Attr ? "'" + callee.name + "'" : "this value";
    if (f.is(Kind::Undefined)) throw Error(what + " is undefined, so it cannot be called");
    throw Error(what + " is " + kind_name(f) + ", which cannot be called");
  }

  // A macro renders into its own text, which it returns, and sees the template's top-level
  // variables and its parameters (a missing one without a default is undefined), not its caller's.
  Value call_macro(const Stmt& m, const Args& args, const Kwargs& kwargs) {
    const std::string& name = m.targets[0];
    const size_t n = m.targets.size() - 1;
    if (args.size() > n) {
      throw Error("the macro '" + name + "' takes " + std::to_string(n) + " arguments, got " + std::to_string(args.size()));
    }
    for (const auto& [k, v] : kwargs) {
      if (std::find(m.targets.begin() + 1, m.targets.end(), k) == m.targets.end()) {
        throw Error("the macro '" + name + "' has no parameter '" + k + "'");
      }
    }
    if (macro_depth_ >= kMaxMacroDepth) throw Error("macros called within each other deeper than " + std::to_string(kMaxMacroDepth));
    // The caller's scopes and text, set aside for the call and restored whatever happens.
    struct Saved {
      Renderer& r;
      std::vector<Scope> scopes;
      std::string out;
      explicit Saved(Renderer& renderer) : r(renderer) {
        scopes.assign(std::make_move_iterator(r.scopes_.begin() + 1), std::make_move_iterator(r.scopes_.end()));
        r.scopes_.resize(1);
        r.scopes_.emplace_back();
        std::swap(out, r.out_);
        ++r.macro_depth_;
      }
      ~Saved() {
        --r.macro_depth_;
        std::swap(out, r.out_);
        r.scopes_.resize(1);
        for (Scope& s : scopes) r.scopes_.push_back(std::move(s));
      }
      Saved(const Saved&) = delete;
      Saved& operator=(const Saved&) = delete;
    } saved(*this);
    for (size_t i = 0; i < n; ++i) {
      const std::string& param = m.targets[i + 1];
      const Value* given = i < args.size() ? &args[i] : nullptr;
      for (const auto& [k, v] : kwargs) {
        if (k != param) continue;
        if (given) throw Error("the macro '" + name + "' got '" + param + "' twice");
        given = &v;
      }
      set(param, given ? *given : m.defaults[i] ? eval(*m.defaults[i]) : Value::undefined(param));
    }
    exec(m.body);
    return Value::string(std::move(out_));  // the macro's own text; the caller's comes back with `saved`
  }

  Budget budget_;
  std::vector<Scope> scopes_;
  std::string out_;
  int macro_depth_ = 0;
};

}  // namespace

Template::Template(std::string_view source, Limits limits) : limits_(limits) {
  if (source.size() > limits_.max_template_bytes) {
    throw Error("the template is " + std::to_string(source.size()) + " bytes, more than the limit of " +
                std::to_string(limits_.max_template_bytes));
  }
  body_ = std::make_unique<std::vector<Stmt>>(parse(tokenize(source), limits_));
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const Value& variables) const { return Renderer(limits_, variables).run(*body_); }

}  // namespace mmfree::jinja
