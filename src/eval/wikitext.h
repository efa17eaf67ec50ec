#pragma once
// WikiText-2 as the harness's `wikitext` task reads it: the raw test file cut into pages the way
// the EleutherAI/wikitext_document_level dataset script cuts it, each page detokenized by
// lm_eval/tasks/wikitext/preprocess_wikitext.py before it is scored.
#include <string>
#include <string_view>
#include <vector>

namespace mmfree::eval {

// The file's text as the original wiki.test.raw has it, from the copy in shared/data/eval, whose
// lines end in "\r\n" and whose whitespace-only lines were emptied: "\r\n" -> "\n" and an empty
// line -> " " (every blank line of the original WikiText raw files is one space).
std::string restore_wikitext_raw(std::string_view copy);

// Pages: a new page starts at each level-1 heading line (" = Title = "); the text before a heading
// is a page when it is not all whitespace; the text after the last heading always is.
std::vector<std::string> wikitext_pages(std::string_view raw);

// preprocess_wikitext.wikitext_detokenizer: undoes the " @-@ ", " , ", "( x )" ... tokenization.
std::string wikitext_detokenize(std::string_view page);

}  // namespace mmfree::eval
