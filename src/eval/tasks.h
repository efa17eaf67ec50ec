#pragma once
// The evaluation tasks as lm-evaluation-harness 0.4 defines them (lm_eval/tasks/<task>/*.yaml and
// their utils), read from the files of shared/data/eval (its README gives the formats). A task
// here is text: the (context, continuation) pairs of each item, its gold answer, and the metrics
// the harness computes; tokenization and scoring happen in requests.h and evaluate.h.
#include <cstdint>
#include <string>
#include <vector>

namespace mmfree::eval {

// One loglikelihood request of the harness: score `continuation` after `context`.
struct TextRequest {
  std::string context, continuation;
};

// A multiple-choice item (one request per choice) or a LAMBADA item (one request, gold 0).
struct ChoiceDoc {
  std::vector<TextRequest> requests;
  std::vector<std::string> choices;  // the choice texts whose length acc_norm divides by
  int gold = 0;
};

// A perplexity document (loglikelihood_rolling): the text scored, and the words and bytes its
// per-word and per-byte figures divide by (WikiText counts them on the page before detokenizing).
struct RollingDoc {
  std::string text;
  int64_t words = 0, bytes = 0;
};

enum class TaskKind {
  MultipleChoice,  // acc (and acc_norm when `normalized`)
  Lambada,         // acc (the continuation is the greedy one) and perplexity
  Rolling,         // word_perplexity, byte_perplexity, bits_per_byte
};

struct Task {
  std::string name;
  std::string harness_file;  // the harness's definition it follows, for docs and --json
  TaskKind kind = TaskKind::MultipleChoice;
  bool normalized = false;  // multiple choice: also acc_norm
  std::vector<ChoiceDoc> docs;
  std::vector<RollingDoc> pages;
  size_t size() const { return kind == TaskKind::Rolling ? pages.size() : docs.size(); }
};

// arc_easy, arc_challenge, hellaswag, piqa, winogrande, openbookqa, boolq, lambada, wikitext.
const std::vector<std::string>& task_names();

// Reads task `name` from data_dir (its folder layout is shared/data/eval's); limit > 0 keeps the
// first `limit` items, as the harness's --limit does. Throws Error naming the file and line of
// anything malformed.
Task load_task(const std::string& name, const std::string& data_dir, int64_t limit = 0);

// HellaSwag's context as the harness builds it (activity_label + ": " + ctx_a + " " +
// ctx_b.capitalize(), bracket tags removed) from the file's context line, which has ctx_b as given:
// the lowercase fragment after the last ". " is ctx_b, and gets capitalized.
std::string hellaswag_query(const std::string& line);

// OpenBookQA's "(A) text (B) text ..." choices column as a list of texts with their labels.
std::vector<std::pair<std::string, std::string>> openbookqa_choices(const std::string& column,
                                                                    const std::string& where);

}  // namespace mmfree::eval
