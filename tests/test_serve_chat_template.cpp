// Chat messages -> prompt in `mmfree serve` (src/serve/chat_template.cpp): the plain template,
// a model's own Jinja template (where the tokenizer keeps it: tokenizer_config.json,
// chat_template.jinja, the GGUF key tokenizer.chat_template), --chat-template, the fallback when
// a model's template cannot be parsed, and the server end to end with a template: the prompt
// tokens are the template's text read with its special tokens, and raise_exception is a 400.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "serve/api_error.h"
#include "serve/chat_template.h"
#include "serve/http_server.h"
#include "serve_harness.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_gguf.h"
#include "util/error.h"

namespace mmfree::serve {
namespace {

using json = nlohmann::json;

// ChatML as OpenHermes-2.5 ships it, with the model's BOS in front (as Llama-3 and Gemma write theirs).
const std::string kChatMl =
    "{{ bos_token }}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const std::string kNoSystem =
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}{{ m['content'] }}{% endfor %}";

const std::vector<ChatMessage> kChat = {{"system", "Answer briefly."}, {"user", "Who is Emma?"}};

TEST(ChatTemplate, PlainIsTheDocumentedFormat) {
  const ChatTemplate plain;
  EXPECT_TRUE(plain.is_plain());
  EXPECT_EQ(plain.render({{"system", "S"}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}}),
            "S\n\nUser: Hi\nAssistant: Hello\nUser: Bye\nAssistant:");
  EXPECT_TRUE(plain.add_bos());
  EXPECT_FALSE(plain.parse_special());
  EXPECT_EQ(plain.stops(), std::vector<std::string>{"\nUser:"});
}

TEST(ChatTemplate, JinjaTemplateRendersWithTheTokens) {
  const ChatTemplate t(kChatMl, "<s>", "</s>", "test");
  EXPECT_FALSE(t.is_plain());
  EXPECT_EQ(t.render(kChat),
            "<s><|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nWho is Emma?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_FALSE(t.add_bos());
  EXPECT_TRUE(t.parse_special());
  EXPECT_TRUE(t.stops().empty());
}

// As transformers renders it: tools and documents are defined, as none.
TEST(ChatTemplate, ToolsAndDocumentsAreNone) {
  const ChatTemplate t("{{ tools is defined }} {{ tools is none }} {{ documents is none }} {{ add_generation_prompt }}", "", "", "test");
  EXPECT_EQ(t.render({{"user", "x"}}), "True True True True");
}

TEST(ChatTemplate, RaiseExceptionIsA400WithItsMessage) {
  const ChatTemplate t(kNoSystem, "", "", "test");
  EXPECT_EQ(t.render({{"user", "a"}, {"assistant", "b"}}), "ab");
  try {
    t.render(kChat);
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "messages");
    EXPECT_STREQ(e.what(), "System role not supported");
  }
}

TEST(ChatTemplate, BrokenTemplatesAreNamedAtStartUp) {
  try {
    ChatTemplate("{% for m in messages %}\n{{ m.content }", "", "", "t.jinja");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the chat template (t.jinja) cannot be parsed: line 2: column 14: unexpected '}'");
  }
  try {
    ChatTemplate("{{ raise_exception('needs a system message') }}", "", "", "t.jinja");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the chat template (t.jinja) refuses a conversation of one user message: needs a system message");
  }
}

// The default model's tokenizer, with `chat_template` set as a tokenizer_config.json would set it.
std::unique_ptr<Tokenizer> tokenizer_with(const std::optional<std::string>& chat_template) {
  const auto base = load_tokenizer(test::default_model());
  TokenizerSettings s = base->settings();
  s.chat_template = chat_template;
  return load_tokenizer_from_bytes(base->kind(), base->file_bytes(), s);
}

TEST(ChatTemplate, ChosenFromFlagModelOrPlain) {
  std::string warning;
  EXPECT_TRUE(choose_chat_template("", *tokenizer_with(std::nullopt), warning).is_plain());
  EXPECT_TRUE(warning.empty());

  const auto with = tokenizer_with(kChatMl);
  const ChatTemplate own = choose_chat_template("", *with, warning);
  EXPECT_EQ(own.origin(), "the model's");
  EXPECT_EQ(own.render({{"user", "x"}}).rfind(with->piece(with->bos_id()) + "<|im_start|>user\nx", 0), 0u);
  EXPECT_TRUE(choose_chat_template("plain", *with, warning).is_plain());

  test::TempDir dir;
  std::ofstream(dir.file("t.jinja")) << kNoSystem;
  EXPECT_EQ(choose_chat_template(dir.file("t.jinja"), *with, warning).render({{"user", "x"}}), "x");
  EXPECT_THROW(choose_chat_template(dir.file("missing.jinja"), *with, warning), Error);

  // A model's template this engine cannot parse: the plain one, and a warning that says why.
  const ChatTemplate fallback = choose_chat_template("", *tokenizer_with("{% filter upper %}{% endfilter %}"), warning);
  EXPECT_TRUE(fallback.is_plain());
  EXPECT_EQ(warning,
            "the chat template (the model's) cannot be parsed: line 1: column 4: the tag 'filter' is not supported by this "
            "template engine (it knows if, for, set, macro, break, continue); using the plain chat template instead "
            "(--chat-template FILE gives another)");
}

TEST(ChatTemplateSource, TokenizerConfigJinjaFileAndGguf) {
  test::TempDir dir;
  const auto base = load_tokenizer(test::default_model());
  ASSERT_EQ(base->kind(), TokenizerKind::SentencePiece);
  std::ofstream(dir.file("tokenizer.model"), std::ios::binary) << base->file_bytes();
  std::ofstream(dir.file("tokenizer_config.json")) << json{{"chat_template", "A{{ 1 }}"}}.dump();
  EXPECT_EQ(load_tokenizer(dir.path().string())->settings().chat_template, "A{{ 1 }}");
  // The list form: the one named "default".
  std::ofstream(dir.file("tokenizer_config.json"))
      << json{{"chat_template", {{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "D"}}}}}.dump();
  EXPECT_EQ(load_tokenizer(dir.path().string())->settings().chat_template, "D");
  std::ofstream(dir.file("tokenizer_config.json")) << json{{"chat_template", 5}}.dump();
  EXPECT_THROW(load_tokenizer(dir.path().string()), Error);
  // chat_template.jinja beside it takes precedence, as in transformers.
  std::ofstream(dir.file("tokenizer_config.json")) << json{{"chat_template", "A"}}.dump();
  std::ofstream(dir.file("chat_template.jinja")) << "J{{ 2 }}\n";
  const auto tok = load_tokenizer(dir.path().string());
  EXPECT_EQ(tok->settings().chat_template, "J{{ 2 }}\n");

  // Into a .gguf under the key llama.cpp uses, and back.
  GgufWriter w;
  bool found = false;
  for (auto& [key, value] : tokenizer_gguf_metadata(*tok)) {
    found = found || key == "tokenizer.chat_template";
    w.add_metadata(key, value);
  }
  EXPECT_TRUE(found);
  w.write(dir.file("t.gguf"));
  EXPECT_EQ(tokenizer_from_gguf(GgufFile(dir.file("t.gguf")))->settings().chat_template, "J{{ 2 }}\n");
}

class ServeChatTemplate : public test_serve::DefaultModelSuite {};

// The server with a template: the prompt is the template's text with its special tokens read as
// such (BOS once, from the template), and the greedy reply is what the decode loop gives on it.
TEST_F(ServeChatTemplate, PromptIsTheTemplatesTextAndRaiseIsA400) {
  const std::string bos = tok_->piece(tok_->bos_id());
  const std::string text = bos + "<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nWho is Emma?<|im_end|>\n<|im_start|>assistant\n";
  const auto ids = tok_->encode(text, {.add_bos = false, .add_eos = false, .parse_special = true});
  ASSERT_EQ(ids[0], tok_->bos_id());
  ASSERT_NE(ids[1], tok_->bos_id());
  const std::string want = test_serve::greedy_text(*model_, *tok_, ids, 12);

  const json body = {{"messages", {{{"role", "system"}, {"content", "Answer briefly."}}, {{"role", "user"}, {"content", "Who is Emma?"}}}},
                     {"max_tokens", 12}, {"temperature", 0}};
  {
    HttpOptions o;
    o.chat_template = ChatTemplate(kChatMl, bos, tok_->piece(tok_->eos_id()), "test");
    test_serve::TestServer s(*model_, *tok_, {}, o);
    auto r = s.client().Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["usage"]["prompt_tokens"], ids.size());
    std::string reply = want;
    reply.erase(0, reply.find_first_not_of(' '));  // the server drops a reply's leading spaces (docs/SERVER.md)
    EXPECT_EQ(j["choices"][0]["message"]["content"], reply);
  }
  HttpOptions o;
  o.chat_template = ChatTemplate(kNoSystem, "", "", "test");
  test_serve::TestServer strict(*model_, *tok_, {}, o);
  auto r = strict.client().Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["message"], "System role not supported");
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "messages");
}

}  // namespace
}  // namespace mmfree::serve
