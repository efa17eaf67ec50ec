#include "eval/tasks.h"

#include <algorithm>
#include <functional>
#include <map>

#include "eval/data_files.h"
#include "eval/pytext.h"
#include "eval/wikitext.h"
#include "util/error.h"

namespace mmfree::eval {
namespace {

std::string at(const std::string& path, size_t line) { return path + ":" + std::to_string(line); }

// The harness's multiple_choice requests: (context, " " + choice) for each choice; the target
// delimiter is the default " " in every task here.
ChoiceDoc choice_doc(const std::string& context, std::vector<std::string> choices, int gold) {
  ChoiceDoc d;
  for (const auto& c : choices) d.requests.push_back({context, " " + c});
  d.choices = std::move(choices);
  d.gold = gold;
  return d;
}

// Labels from a .lst file (one per line) for `count` items, mapped through `values`.
std::vector<int> read_labels(const std::string& path, size_t count, const std::map<std::string, int>& values) {
  std::vector<std::string> lines = read_lines(path);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  check(lines.size() == count,
        path + ": " + std::to_string(lines.size()) + " labels for " + std::to_string(count) + " items");
  std::vector<int> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto it = values.find(std::string(py::strip(lines[i])));
    check(it != values.end(), at(path, i + 1) + ": unexpected label '" + lines[i] + "'");
    out.push_back(it->second);
  }
  return out;
}

// One doc per object of a JSON-lines file: make(object, "path item N" for messages).
template <class Make>
std::vector<ChoiceDoc> jsonl_docs(const std::string& path, Make make) {
  std::vector<ChoiceDoc> docs;
  const auto rows = read_jsonl(path);
  for (size_t i = 0; i < rows.size(); ++i) docs.push_back(make(rows[i], path + " item " + std::to_string(i + 1)));
  return docs;
}

// The gold answers from a .lst file beside the items (one label per line, mapped through values).
std::vector<ChoiceDoc> with_labels(std::vector<ChoiceDoc> docs, const std::string& path,
                                   const std::map<std::string, int>& values) {
  const auto labels = read_labels(path, docs.size(), values);
  for (size_t i = 0; i < docs.size(); ++i) docs[i].gold = labels[i];
  return docs;
}

// arc_easy.yaml: "Question: {{question}}\nAnswer:", choices.text, target choices.label.index(answerKey).
std::vector<ChoiceDoc> arc(const std::string& path) {
  return jsonl_docs(path, [](const nlohmann::json& row, const std::string& where) {
    const auto& q = row.value("question", nlohmann::json());
    check(q.is_object() && q.contains("choices") && q["choices"].is_array(), where + ": no question.choices list");
    std::vector<std::string> texts, labels;
    for (const auto& c : q["choices"]) {
      check(c.is_object(), where + ": a choice is not an object");
      texts.push_back(json_string(c, "text", where));
      labels.push_back(json_string(c, "label", where));
    }
    const std::string key = json_string(row, "answerKey", where);
    const auto it = std::find(labels.begin(), labels.end(), key);
    check(it != labels.end(), where + ": answerKey '" + key + "' is none of the choice labels");
    return choice_doc("Question: " + json_string(q, "stem", where) + "\nAnswer:", std::move(texts),
                      static_cast<int>(it - labels.begin()));
  });
}

// hellaswag.yaml + utils.py: query = preprocess(activity_label: ctx), choices = preprocessed endings.
std::vector<ChoiceDoc> hellaswag(const std::string& path) {
  std::vector<std::string> lines = read_lines(path);
  check(lines.size() % 6 == 0,
        path + ": " + std::to_string(lines.size()) + " lines, not 6 per item (context, label, 4 endings)");
  std::vector<ChoiceDoc> docs;
  for (size_t i = 0; i < lines.size(); i += 6) {
    const std::string label(py::strip(lines[i + 1]));
    check(label.size() == 1 && label[0] >= '0' && label[0] <= '3',
          at(path, i + 2) + ": label '" + lines[i + 1] + "' is not 0..3");
    std::vector<std::string> endings(lines.begin() + static_cast<std::ptrdiff_t>(i + 2),
                                     lines.begin() + static_cast<std::ptrdiff_t>(i + 6));
    for (auto& e : endings) e = std::string(py::strip(e));
    docs.push_back(choice_doc(hellaswag_query(lines[i]), std::move(endings), label[0] - '0'));
  }
  return docs;
}

// piqa.yaml: "Question: {{goal}}\nAnswer:", choices [sol1, sol2], target label.
std::vector<ChoiceDoc> piqa(const std::string& dir) {
  auto docs = jsonl_docs(dir + "/valid.jsonl", [](const nlohmann::json& row, const std::string& where) {
    return choice_doc("Question: " + json_string(row, "goal", where) + "\nAnswer:",
                      {json_string(row, "sol1", where), json_string(row, "sol2", where)}, 0);
  });
  return with_labels(std::move(docs), dir + "/valid-labels.lst", {{"0", 0}, {"1", 1}});
}

// winogrande preprocess_winogrande.py: partial scoring. The contexts are the sentence up to the
// blank with each option filled in; the continuation, shared, is " " + the rest after the blank.
std::vector<ChoiceDoc> winogrande(const std::string& dir) {
  auto docs = jsonl_docs(dir + "/dev.jsonl", [](const nlohmann::json& row, const std::string& where) {
    const std::string s = json_string(row, "sentence", where);
    const size_t blank = s.find('_');
    check(blank != std::string::npos, where + ": the sentence has no blank '_'");
    std::string rest(" ");
    rest += py::strip(std::string_view(s).substr(blank + 1));
    ChoiceDoc d;
    for (const char* key : {"option1", "option2"}) {
      d.choices.push_back(s.substr(0, blank) + json_string(row, key, where));
      d.requests.push_back({d.choices.back(), rest});
    }
    return d;
  });
  return with_labels(std::move(docs), dir + "/dev-labels.lst", {{"1", 0}, {"2", 1}});
}

// openbookqa.yaml: context question_stem, choices.text, target choices.label.index(answerKey.lstrip()).
std::vector<ChoiceDoc> openbookqa(const std::string& path) {
  std::vector<std::string> lines = read_lines(path);
  check(!lines.empty() && lines[0].starts_with("ID\t"), path + ": no header line \"ID\\tQuestion Stem\\t...\"");
  std::vector<ChoiceDoc> docs;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::vector<std::string> cols;
    for (size_t s = 0;;) {
      const size_t t = lines[i].find('\t', s);
      cols.push_back(lines[i].substr(s, t == std::string::npos ? std::string::npos : t - s));
      if (t == std::string::npos) break;
      s = t + 1;
    }
    check(cols.size() == 5, at(path, i + 1) + ": " + std::to_string(cols.size()) + " tab-separated columns, not 5");
    std::vector<std::string> texts;
    int gold = -1;
    const std::string key(py::strip(cols[4]));
    for (auto& [label, text] : openbookqa_choices(cols[2], at(path, i + 1))) {
      if (label == key) gold = static_cast<int>(texts.size());
      texts.push_back(std::move(text));
    }
    check(gold >= 0, at(path, i + 1) + ": answer key '" + cols[4] + "' is none of the choice labels");
    docs.push_back(choice_doc(cols[1], std::move(texts), gold));
  }
  return docs;
}

// super_glue/boolq/default.yaml: "{{passage}}\nQuestion: {{question}}?\nAnswer:", choices [no, yes].
std::vector<ChoiceDoc> boolq(const std::string& path) {
  return jsonl_docs(path, [](const nlohmann::json& row, const std::string& where) {
    const auto& l = row.value("label", nlohmann::json());
    check(l.is_boolean() || l == "true" || l == "false", where + ": label is not true/false");
    const bool yes = l.is_boolean() ? l.get<bool>() : l == "true";
    return choice_doc(
        json_string(row, "passage", where) + "\nQuestion: " + json_string(row, "question", where) + "?\nAnswer:",
        {"no", "yes"}, yes ? 1 : 0);
  });
}

// lambada_openai.yaml: context = all but the last space-separated word, continuation " " + it.
std::vector<ChoiceDoc> lambada(const std::string& path) {
  return jsonl_docs(path, [](const nlohmann::json& row, const std::string& where) {
    const std::string text = json_string(row, "text", where);
    const size_t cut = text.rfind(' ');
    ChoiceDoc d;
    // Python's text.split(' ') with no space gives [text]: the context is then "".
    d.requests.push_back({cut == std::string::npos ? "" : text.substr(0, cut),
                          " " + (cut == std::string::npos ? text : text.substr(cut + 1))});
    d.choices.push_back(d.requests[0].continuation);
    return d;
  });
}

// wikitext.yaml + preprocess_wikitext.py: each page detokenized; words and bytes of the page as read.
std::vector<RollingDoc> wikitext(const std::string& path) {
  std::vector<RollingDoc> out;
  for (const auto& page : wikitext_pages(restore_wikitext_raw(read_data_file(path))))
    out.push_back({wikitext_detokenize(page), py::split_ws_count(page), static_cast<int64_t>(page.size())});
  return out;
}

struct TaskDef {
  const char* harness_file;
  TaskKind kind;
  bool normalized;
  std::function<std::vector<ChoiceDoc>(const std::string& dir)> choices;
};

const std::map<std::string, TaskDef>& definitions() {
  static const std::map<std::string, TaskDef> defs = {
      {"arc_easy",
       {"lm_eval/tasks/arc/arc_easy.yaml", TaskKind::MultipleChoice, true,
        [](const std::string& d) { return arc(d + "/arc_easy/ARC-Easy-Test.jsonl"); }}},
      {"arc_challenge",
       {"lm_eval/tasks/arc/arc_challenge.yaml", TaskKind::MultipleChoice, true,
        [](const std::string& d) { return arc(d + "/arc_challenge/ARC-Challenge-Test.jsonl"); }}},
      {"hellaswag",
       {"lm_eval/tasks/hellaswag/hellaswag.yaml, utils.py", TaskKind::MultipleChoice, true,
        [](const std::string& d) { return hellaswag(d + "/hellaswag/hellaswag_val_full.txt.bz2"); }}},
      {"piqa",
       {"lm_eval/tasks/piqa/piqa.yaml", TaskKind::MultipleChoice, true,
        [](const std::string& d) { return piqa(d + "/piqa"); }}},
      {"winogrande",
       {"lm_eval/tasks/winogrande/default.yaml, preprocess_winogrande.py", TaskKind::MultipleChoice, false,
        [](const std::string& d) { return winogrande(d + "/winogrande"); }}},
      {"openbookqa",
       {"lm_eval/tasks/openbookqa/openbookqa.yaml", TaskKind::MultipleChoice, true,
        [](const std::string& d) { return openbookqa(d + "/openbookqa/test.tsv"); }}},
      {"boolq",
       {"lm_eval/tasks/super_glue/boolq/default.yaml", TaskKind::MultipleChoice, false,
        [](const std::string& d) { return boolq(d + "/boolq/val.jsonl"); }}},
      {"lambada",
       {"lm_eval/tasks/lambada/lambada_openai.yaml", TaskKind::Lambada, false,
        [](const std::string& d) { return lambada(d + "/lambada/lambada_test.jsonl"); }}},
      {"wikitext", {"lm_eval/tasks/wikitext/wikitext.yaml, preprocess_wikitext.py", TaskKind::Rolling, false, nullptr}},
  };
  return defs;
}

}  // namespace

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"arc_easy",   "arc_challenge", "hellaswag", "piqa",    "winogrande",
                                                 "openbookqa", "boolq",         "lambada",   "wikitext"};
  return names;
}

Task load_task(const std::string& name, const std::string& data_dir, int64_t limit) {
  const auto it = definitions().find(name);
  std::string known;
  for (const auto& n : task_names()) known += (known.empty() ? "" : ", ") + n;
  check(it != definitions().end(), "--task: unknown task '" + name + "' (known: " + known + ")");
  const TaskDef& def = it->second;
  Task t{name, def.harness_file, def.kind, def.normalized, {}, {}};
  if (def.kind == TaskKind::Rolling)
    t.pages = wikitext(data_dir + "/wikitext/wiki.test.raw");
  else
    t.docs = def.choices(data_dir);
  check(t.size() > 0, name + ": the data file holds no items");
  if (limit > 0) {
    if (t.docs.size() > static_cast<size_t>(limit)) t.docs.resize(static_cast<size_t>(limit));
    if (t.pages.size() > static_cast<size_t>(limit)) t.pages.resize(static_cast<size_t>(limit));
  }
  return t;
}

std::string hellaswag_query(const std::string& line) {
  // The rest of utils.preprocess (strip, " [title]" -> ". ", tags removed, double spaces) is
  // already applied in the file; applying it again changes nothing there.
  const size_t cut = line.rfind(". ");
  const size_t frag = cut == std::string::npos ? std::string::npos : cut + 2;
  if (frag >= line.size() || !(line[frag] >= 'a' && line[frag] <= 'z')) return std::string(py::strip(line));
  return std::string(py::strip(line.substr(0, frag) + py::capitalize(line.substr(frag))));
}

std::vector<std::pair<std::string, std::string>> openbookqa_choices(const std::string& column,
                                                                    const std::string& where) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  for (char label = 'A';; ++label) {
    const std::string mark = std::string(label == 'A' ? "" : " ") + "(" + label + ") ";
    check(column.compare(pos, mark.size(), mark) == 0 || label > 'A',
          where + ": choices column does not start with \"(A) \"");
    if (column.compare(pos, mark.size(), mark) != 0) break;
    pos += mark.size();
    const std::string next = std::string(" (") + static_cast<char>(label + 1) + ") ";
    const size_t end = std::min(column.find(next, pos), column.size());
    out.emplace_back(std::string(1, label), column.substr(pos, end - pos));
    pos = end;
  }
  check(pos == column.size() && out.size() >= 2, where + ": choices column is not \"(A) .. (B) ..\"");
  return out;
}

}  // namespace mmfree::eval
