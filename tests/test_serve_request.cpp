// Request validation of the server (src/serve/request.cpp): a list of malformed and hostile
// bodies, each answered 400 naming the field at fault, and the well-formed ones read as sent.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "serve/api_error.h"
#include "serve/request.h"

namespace mmfree::serve {
namespace {

RequestLimits limits() {
  RequestLimits l;
  l.vocab = 1000;
  l.max_tokens = 512;
  l.max_n = 4;
  return l;
}

struct Hostile {
  const char* what;
  Api api;
  std::string body;
  std::string param;  // the field the error must name; "" when the body as a whole is at fault
};

// Every entry must be refused with 400. At least 30 (issue 15).
std::vector<Hostile> hostile_requests() {
  const auto C = Api::Completions, H = Api::Chat;
  return {
      {"empty body", C, "", ""},
      {"not JSON", C, "prompt=hello", ""},
      {"truncated JSON", C, R"({"prompt": "hi")", ""},
      {"trailing garbage", C, R"({"prompt": "hi"} x)", ""},
      {"array body", C, R"(["prompt"])", ""},
      {"string body", C, R"("hello")", ""},
      {"null body", C, "null", ""},
      {"invalid UTF-8 in a string", C, "{\"prompt\": \"a\xff\xfe\"}", ""},
      {"encoded surrogate", C, "{\"prompt\": \"\xed\xa0\x80\"}", ""},
      {"lone surrogate escape", C, R"({"prompt": "\ud800"})", ""},
      {"NUL byte outside a string", C, std::string("{\"prompt\": \"a\"}\0", 16), ""},
      {"deep nesting", C, std::string(100000, '[') + std::string(100000, ']'), ""},
      {"deep nesting inside a field", C, R"({"prompt": "a", "user": )" + std::string(50000, '[') + std::string(50000, ']') + "}", "user"},
      {"missing prompt", C, R"({"max_tokens": 4})", "prompt"},
      {"missing messages", H, R"({"model": "m"})", "messages"},
      {"unknown field", C, R"({"prompt": "a", "temprature": 0.5})", "temprature"},
      {"prompt of wrong type", C, R"({"prompt": {"text": "a"}})", "prompt"},
      {"batch of prompts", C, R"({"prompt": ["a", "b"]})", "prompt"},
      {"token id beyond the vocabulary", C, R"({"prompt": [1, 2, 1000]})", "prompt[2]"},
      {"negative token id", C, R"({"prompt": [-1]})", "prompt[0]"},
      {"token id as float", C, R"({"prompt": [1, 2.5]})", "prompt[1]"},
      {"max_tokens as string", C, R"({"prompt": "a", "max_tokens": "10"})", "max_tokens"},
      {"max_tokens zero", C, R"({"prompt": "a", "max_tokens": 0})", "max_tokens"},
      {"max_tokens negative", C, R"({"prompt": "a", "max_tokens": -5})", "max_tokens"},
      {"max_tokens over the limit", C, R"({"prompt": "a", "max_tokens": 513})", "max_tokens"},
      {"max_tokens 2^64", C, R"({"prompt": "a", "max_tokens": 18446744073709551616})", "max_tokens"},
      {"max_tokens huge unsigned", C, R"({"prompt": "a", "max_tokens": 18446744073709551615})", "max_tokens"},
      {"max_tokens 1e308", C, R"({"prompt": "a", "max_tokens": 1e308})", "max_tokens"},
      {"temperature overflowing to inf", C, R"({"prompt": "a", "temperature": 1e999})", ""},
      {"temperature negative", C, R"({"prompt": "a", "temperature": -0.1})", "temperature"},
      {"temperature as bool", C, R"({"prompt": "a", "temperature": true})", "temperature"},
      {"top_p zero", C, R"({"prompt": "a", "top_p": 0})", "top_p"},
      {"top_p above one", C, R"({"prompt": "a", "top_p": 1.5})", "top_p"},
      {"top_k beyond the vocabulary", C, R"({"prompt": "a", "top_k": 1001})", "top_k"},
      {"min_p negative", C, R"({"prompt": "a", "min_p": -1})", "min_p"},
      {"repeat_penalty zero", C, R"({"prompt": "a", "repeat_penalty": 0})", "repeat_penalty"},
      {"n zero", C, R"({"prompt": "a", "n": 0})", "n"},
      {"n over the limit", C, R"({"prompt": "a", "n": 5})", "n"},
      {"seed as string", C, R"({"prompt": "a", "seed": "42"})", "seed"},
      {"seed fractional", C, R"({"prompt": "a", "seed": 4.2})", "seed"},
      {"stop empty string", C, R"({"prompt": "a", "stop": ""})", "stop"},
      {"stop list with a number", C, R"({"prompt": "a", "stop": ["x", 3]})", "stop[1]"},
      {"too many stops", C, R"({"prompt": "a", "stop": [)" + [] {
         std::string s;
         for (int i = 0; i < 17; ++i) s += std::string(i ? "," : "") + "\"s" + std::to_string(i) + "\"";
         return s;
       }() + "]}", "stop"},
      {"stop too long", C, R"({"prompt": "a", "stop": ")" + std::string(1025, 'x') + "\"}", "stop"},
      {"stream as string", C, R"({"prompt": "a", "stream": "yes"})", "stream"},
      {"stream_options without stream", C, R"({"prompt": "a", "stream_options": {"include_usage": true}})", "stream_options"},
      {"unknown stream option", C, R"({"prompt": "a", "stream": true, "stream_options": {"x": 1}})", "stream_options.x"},
      {"logprobs over the limit", C, R"({"prompt": "a", "logprobs": 21})", "logprobs"},
      {"ignore_eos as number", C, R"({"prompt": "a", "ignore_eos": 1})", "ignore_eos"},
      {"frequency_penalty set", C, R"({"prompt": "a", "frequency_penalty": 0.5})", "frequency_penalty"},
      {"logit_bias set", C, R"({"prompt": "a", "logit_bias": {"5": 10}})", "logit_bias"},
      {"echo", C, R"({"prompt": "a", "echo": true})", "echo"},
      {"messages empty", H, R"({"messages": []})", "messages"},
      {"messages not an array", H, R"({"messages": "hi"})", "messages"},
      {"message not an object", H, R"({"messages": ["hi"]})", "messages[0]"},
      {"message without role", H, R"({"messages": [{"content": "hi"}]})", "messages[0].role"},
      {"message with unknown role", H, R"({"messages": [{"role": "root", "content": "hi"}]})", "messages[0].role"},
      {"message without content", H, R"({"messages": [{"role": "user"}]})", "messages[0].content"},
      {"message with an image part", H, R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]})", "messages[0].content[0]"},
      {"message with tool calls", H, R"({"messages": [{"role": "assistant", "content": "", "tool_calls": []}]})", "messages[0].tool_calls"},
      {"tools", H, R"({"messages": [{"role": "user", "content": "hi"}], "tools": []})", "tools"},
      {"top_logprobs without logprobs", H, R"({"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 3})", "top_logprobs"},
      {"logprobs as number in chat", H, R"({"messages": [{"role": "user", "content": "hi"}], "logprobs": 3})", "logprobs"},
      {"response_format json", H, R"({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}})", "response_format"},
      {"prompt field in chat", H, R"({"messages": [{"role": "user", "content": "hi"}], "prompt": "a"})", "prompt"},
  };
}

TEST(ServeRequest, HostileRequestsAreRefusedNamingTheField) {
  const auto list = hostile_requests();
  ASSERT_GE(list.size(), 30u);
  for (const Hostile& h : list) {
    try {
      parse_request(h.api, h.body, limits());
      ADD_FAILURE() << h.what << ": accepted";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400) << h.what;
      EXPECT_EQ(e.param, h.param) << h.what << ": " << e.what();
      if (!h.param.empty()) {
        EXPECT_NE(std::string(e.what()).find(h.param), std::string::npos) << h.what << ": " << e.what();
      }
      const auto body = error_json(e);
      EXPECT_EQ(body["error"]["type"], "invalid_request_error") << h.what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << h.what << ": threw something else: " << e.what();
    }
  }
}

TEST(ServeRequest, CompletionFieldsAreRead) {
  const auto r = parse_request(Api::Completions,
                               R"({"model": "x", "prompt": "Once", "max_tokens": 7, "temperature": 0, "top_p": 0.5,
                                   "top_k": 3, "min_p": 0.1, "repeat_penalty": 1.3, "seed": -1, "n": 2,
                                   "stop": "\n", "ignore_eos": true, "stream": true,
                                   "stream_options": {"include_usage": true}, "logprobs": 2, "user": "u",
                                   "frequency_penalty": 0, "presence_penalty": null})",
                               limits());
  EXPECT_EQ(r.prompt_text, "Once");
  EXPECT_FALSE(r.prompt_is_ids);
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_EQ(r.sampler.temperature, 0.0f);
  EXPECT_EQ(r.sampler.top_p, 0.5f);
  EXPECT_EQ(r.sampler.top_k, 3);
  EXPECT_FLOAT_EQ(r.sampler.min_p, 0.1f);
  EXPECT_FLOAT_EQ(r.sampler.repeat_penalty, 1.3f);
  EXPECT_TRUE(r.has_seed);
  EXPECT_EQ(r.sampler.seed, UINT64_MAX);  // -1 modulo 2^64
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.stops, std::vector<std::string>{"\n"});
  EXPECT_TRUE(r.ignore_eos && r.stream && r.include_usage);
  EXPECT_EQ(r.logprobs, 2);
}

TEST(ServeRequest, DefaultsAndPromptForms) {
  auto r = parse_request(Api::Completions, R"({"prompt": [1, 2, 999]})", limits());
  EXPECT_TRUE(r.prompt_is_ids);
  EXPECT_EQ(r.prompt_ids, (std::vector<int64_t>{1, 2, 999}));
  EXPECT_EQ(r.max_tokens, limits().default_max_tokens);
  EXPECT_EQ(r.logprobs, -1);
  EXPECT_FALSE(r.has_seed);
  r = parse_request(Api::Completions, R"({"prompt": [[4, 5]]})", limits());
  EXPECT_EQ(r.prompt_ids, (std::vector<int64_t>{4, 5}));
  r = parse_request(Api::Completions, R"({"prompt": ["text"]})", limits());
  EXPECT_EQ(r.prompt_text, "text");
  r = parse_request(Api::Completions, R"({"prompt": ""})", limits());
  EXPECT_EQ(r.prompt_text, "");
}

TEST(ServeRequest, ChatFieldsAreRead) {
  const auto r = parse_request(Api::Chat,
                               R"({"messages": [{"role": "developer", "content": "Be brief."},
                                                {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}], "name": "ann"}],
                                   "max_completion_tokens": 9, "logprobs": true, "top_logprobs": 4})",
                               limits());
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "Hi there");
  EXPECT_EQ(r.max_tokens, 9);
  EXPECT_EQ(r.logprobs, 4);
}

TEST(ServeRequest, TokenizeBodies) {
  const auto t = parse_tokenize(R"({"content": "a b", "add_special": true, "with_pieces": true})");
  EXPECT_EQ(t.content, "a b");
  EXPECT_TRUE(t.add_special && t.with_pieces && t.parse_special);
  EXPECT_THROW(parse_tokenize(R"({"text": "a"})"), ApiError);
  EXPECT_THROW(parse_tokenize(R"({})"), ApiError);
  EXPECT_EQ(parse_detokenize(R"({"tokens": [1, 2]})", 10), (std::vector<int32_t>{1, 2}));
  EXPECT_THROW(parse_detokenize(R"({"tokens": [10]})", 10), ApiError);
  EXPECT_THROW(parse_detokenize(R"({"tokens": "1"})", 10), ApiError);
}

}  // namespace
}  // namespace mmfree::serve
