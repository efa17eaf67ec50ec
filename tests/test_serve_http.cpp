// `mmfree serve` end to end on loopback: the server (src/serve/) on an ephemeral port in this
// process with the shipped default model, spoken to over real sockets: the endpoints, streaming,
// the API key, limits, hostile HTTP, a client that goes away, and the binary's graceful SIGTERM.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "serve_harness.h"

namespace mmfree::serve {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using test_serve::TestServer;


// Sends raw bytes on a fresh connection; returns what came back: one whole response (by its
// Content-Length), or what arrived before the server closed the connection, 10 s passed, or
// max_bytes arrived.
std::string raw_exchange(int port, const std::string& bytes, size_t max_bytes = 1 << 20) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    for (size_t sent = 0; sent < bytes.size();) {
      const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may close early (a body over the limit)
      sent += static_cast<size_t>(n);
    }
    char buf[4096];
    std::smatch m;
    for (ssize_t n; out.size() < max_bytes && (n = recv(fd, buf, sizeof buf, 0)) > 0;) {
      out.append(buf, static_cast<size_t>(n));
      const size_t head = out.find("\r\n\r\n");
      if (head != std::string::npos && std::regex_search(out.cbegin(), out.cbegin() + static_cast<std::ptrdiff_t>(head), m,
                                                         std::regex("\r\nContent-Length: (\\d+)")) &&
          out.size() >= head + 4 + std::stoul(m[1])) {
        break;
      }
    }
  }
  close(fd);
  return out;
}

// A POST request with its Content-Length.
std::string post(const std::string& path, const std::string& body, const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

int status_of(const std::string& response) {
  std::smatch m;
  return std::regex_search(response, m, std::regex("^HTTP/1\\.[01] (\\d{3})")) ? std::stoi(m[1]) : 0;
}

// The data lines of a server-sent-event stream.
std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
  }
  return out;
}

class ServeHttp : public test_serve::DefaultModelSuite {
 protected:
  // Options with the few fields a test sets.
  static HttpOptions http(const std::function<void(HttpOptions&)>& set = {}) {
    HttpOptions o;
    if (set) set(o);
    return o;
  }
};

TEST_F(ServeHttp, HealthModelsAndMetrics) {
  TestServer s(*model_, *tok_, {}, http([](HttpOptions& o) { o.model_name = "tiny"; }));
  auto c = s.client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["data"][0]["id"], "tiny");
  r = c.Get("/");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("<title>mmfree chat</title>"), std::string::npos);
  // A request is counted after its response is written (cpp-httplib's logger), on its own
  // connection's thread: the count may land a moment after the client has its answer.
  for (int i = 0; i < 500; ++i) {
    r = c.Get("/metrics");
    ASSERT_TRUE(r);
    if (r->body.find("mmfree_requests_total{endpoint=\"/\",status=\"200\"} 1") != std::string::npos &&
        r->body.find("mmfree_requests_total{endpoint=\"/health\",status=\"200\"} 1") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  for (const char* name : {"mmfree_requests_total{endpoint=\"/health\",status=\"200\"} 1", "mmfree_queue_length 0",
                           "mmfree_time_to_first_token_seconds_bucket{le=\"+Inf\"} 0", "mmfree_batch_rows_count 0"}) {
    EXPECT_NE(r->body.find(name), std::string::npos) << name << " not in\n" << r->body;
  }
}

TEST_F(ServeHttp, GreedyCompletionIsWhatGenerateGives) {
  TestServer s(*model_, *tok_, {}, http());
  auto c = s.client();
  const std::string prompt = "It is a truth universally";
  // The reference: the CLI's decode loop on the same model, one sequence alone.
  const auto ids = tok_->encode(prompt, {.add_bos = true, .add_eos = false, .parse_special = true});
  const std::string want = test_serve::greedy_text(*model_, *tok_, ids, 24);
  ASSERT_FALSE(want.empty());

  const json body = {{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}};
  auto r = c.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], want);
  EXPECT_EQ(j["usage"]["prompt_tokens"], ids.size());

  // Streamed: the same text in pieces, then usage, then [DONE].
  json sb = body;
  sb["stream"] = true;
  sb["stream_options"] = {{"include_usage", true}};
  r = c.Post("/v1/completions", sb.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const auto events = sse_data(r->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string streamed;
  for (size_t i = 0; i + 2 < events.size(); ++i) streamed += json::parse(events[i])["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(streamed, want);
  EXPECT_EQ(json::parse(events[events.size() - 2])["usage"]["completion_tokens"], 24);
}

TEST_F(ServeHttp, ChatLogprobsAndChoices) {
  TestServer s(*model_, *tok_, {}, http());
  auto c = s.client();
  const json body = {{"messages", {{{"role", "system"}, {"content", "Answer briefly."}}, {{"role", "user"}, {"content", "Who is Emma?"}}}},
                     {"max_tokens", 8}, {"temperature", 0.7}, {"seed", 5}, {"n", 2}, {"logprobs", true}, {"top_logprobs", 3}};
  auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  ASSERT_EQ(j["choices"].size(), 2u);
  for (const auto& ch : j["choices"]) {
    EXPECT_EQ(ch["message"]["role"], "assistant");
    const auto& content = ch["logprobs"]["content"];
    ASSERT_FALSE(content.empty());
    for (const auto& t : content) {
      EXPECT_LE(t["logprob"].get<double>(), 0.0);
      ASSERT_EQ(t["top_logprobs"].size(), 3u);
      EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(), t["top_logprobs"][2]["logprob"].get<double>());
    }
  }
  // The same seed gives the same reply.
  auto again = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(json::parse(again->body)["choices"], j["choices"]);
}

TEST_F(ServeHttp, TokenizeRoundTrip) {
  TestServer s(*model_, *tok_, {}, http());
  auto c = s.client();
  auto r = c.Post("/tokenize", R"({"content": "Emma Woodhouse, handsome"})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json tokens = json::parse(r->body)["tokens"];
  const auto want = tok_->encode("Emma Woodhouse, handsome", {.add_bos = false, .add_eos = false, .parse_special = true});
  EXPECT_EQ(tokens.get<std::vector<int32_t>>(), want);
  r = c.Post("/detokenize", json{{"tokens", tokens}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["content"], "Emma Woodhouse, handsome");
}

TEST_F(ServeHttp, ApiKeyIsRequiredWhereSet) {
  TestServer s(*model_, *tok_, {}, http([](HttpOptions& o) { o.api_key = "sekret"; }));
  auto c = s.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  EXPECT_EQ(c.Get("/")->status, 200);
  auto r = c.Get("/v1/models");
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "authentication_error");
  EXPECT_EQ(c.Get("/metrics", {{"Authorization", "Bearer sekreT"}})->status, 401);
  EXPECT_EQ(c.Get("/metrics", {{"Authorization", "Bearer sekret2"}})->status, 401);
  EXPECT_EQ(c.Get("/metrics", {{"Authorization", "Basic sekret"}})->status, 401);
  EXPECT_EQ(c.Post("/v1/completions", R"({"prompt": "a", "max_tokens": 1})", "application/json")->status, 401);
  EXPECT_EQ(c.Get("/v1/models", {{"Authorization", "Bearer sekret"}})->status, 200);
}

TEST_F(ServeHttp, HostileHttpGets4xxAndTheServerLives) {
  TestServer s(*model_, *tok_, {}, http([](HttpOptions& o) {
    o.max_body_bytes = 64 * 1024;
    o.max_prompt_tokens = 64;
    o.read_timeout_s = 1;  // two cases wait for a body that never comes
  }));
  const int port = s.port();
  struct Case {
    const char* what;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"body over the limit", post("/v1/completions", "{\"prompt\": \"" + std::string(100 * 1024, 'a') + "\"}")},
      {"prompt over the token limit", post("/v1/completions", "{\"prompt\": \"" + std::string(2000, 'a') + " b c\"}")},
      {"chat over the token limit", post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": ")" + std::string(3000, 'x') + "\"}]}")},
      {"Content-Length larger than the body sent", "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}"},
      {"negative Content-Length", "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\n{}"},
      {"invalid UTF-8 body", post("/v1/completions", "{\"prompt\": \"\xc3\x28\"}")},
      {"not JSON", post("/v1/chat/completions", "hello")},
      {"wrong method", "GET /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
      {"unknown path", "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
      {"header line of 100 KB", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100 * 1024, 'h') + "\r\n\r\n"},
      {"URI of 20 KB", "GET /" + std::string(20 * 1024, 'u') + " HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"TLS hello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n", 25)},
      {"request line without a path", "GET\r\n\r\n"},
      {"unknown HTTP version", "GET /health HTTP/9.9\r\nHost: x\r\n\r\n"},
      {"two different Content-Lengths", "POST /v1/completions HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 500\r\n\r\n{\"a\":"},
      {"chunked body with a bad size", "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
      {"unknown field", post("/v1/completions", R"({"prompt": "a", "evil": 1})")},
      {"n over the limit", post("/v1/completions", R"({"prompt": "a", "n": 9})")},
      {"huge max_tokens", post("/v1/completions", R"({"prompt": "a", "max_tokens": 1e300})")},
      {"detokenize ids outside the vocabulary", post("/detokenize", R"({"tokens": [99999999]})")},
  };
  for (const Case& c : cases) {
    const std::string got = raw_exchange(port, c.bytes);
    const int status = status_of(got);
    EXPECT_TRUE(status >= 400 && status < 500) << c.what << ": got\n" << got.substr(0, 300);
    const size_t body_at = got.find("\r\n\r\n");
    if (status >= 400 && body_at != std::string::npos && got.find("{\"error\"", body_at) == std::string::npos) {
      ADD_FAILURE() << c.what << ": no OpenAI-style error body:\n" << got.substr(0, 300);
    }
  }
  auto client = s.client();
  auto r = client.Get("/health");
  ASSERT_TRUE(r) << "the server no longer answers";
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServeHttp, BurstOfConnectionsIsServed) {
  // 200 clients connecting at once: the accept queue must hold them (cpp-httplib's own is 5 deep).
  TestServer s(*model_, *tok_, {}, http());
  std::vector<std::string> got(200);
  std::vector<std::thread> clients;
  for (auto& g : got) {
    clients.emplace_back([&g, port = s.port()] { g = raw_exchange(port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); });
  }
  for (auto& c : clients) c.join();
  int ok = 0;
  for (const auto& g : got) ok += status_of(g) == 200;
  EXPECT_EQ(ok, 200);
}

TEST_F(ServeHttp, FullQueueIsAnswered503WithRetryAfter) {
  TestServer s(*model_, *tok_, SchedulerOptions{.parallel = 1, .max_queue = 0, .prefill_chunk = 64},
               http([](HttpOptions& o) { o.limits.max_tokens = 100000; }));
  // A stream that holds the only slot until its client has read 4 KB of it and gone.
  std::string held;
  std::thread holder([&] {
    held = raw_exchange(s.port(), post("/v1/completions", R"({"prompt": "a", "max_tokens": 100000, "ignore_eos": true, "stream": true})"), 4096);
  });
  const auto until = [&](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return done();
  };
  EXPECT_TRUE(until([&] { return s.metrics().load().second == 1 || !held.empty(); }));
  auto c = s.client();
  auto r = c.Post("/v1/completions", R"({"prompt": "b", "max_tokens": 1})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "unavailable_error");
  holder.join();
  EXPECT_EQ(status_of(held), 200) << held.substr(0, 300);
  EXPECT_TRUE(until([&] { return s.metrics().load().second == 0; })) << "the slot of a client that went away was not freed";
  r = c.Post("/v1/completions", R"({"prompt": "b", "max_tokens": 1})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServeHttp, SilentClientThatLeavesFreesItsSlot) {
  // A non-streamed request writes nothing until it ends: its client leaving is seen on the socket.
  TestServer s(*model_, *tok_, SchedulerOptions{.parallel = 2, .max_queue = 4, .prefill_chunk = 64}, http([](HttpOptions& o) { o.limits.max_tokens = 100000; }));
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(s.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string body = R"({"prompt": "a", "max_tokens": 100000, "ignore_eos": true})";
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  while (s.metrics().load().second == 0) std::this_thread::sleep_for(10ms);
  close(fd);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (s.metrics().load().second != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(s.metrics().load().second, 0);
  EXPECT_NE(s.metrics().prometheus().find("mmfree_cancelled_total 1"), std::string::npos);
}

TEST_F(ServeHttp, SigtermFinishesTheStreamAndExitsZero) {
  test::TempDir dir;
  const std::string log = dir.file("serve.log");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = test::mmfree_binary() + " serve --model " + test::default_model() + " --port 0 --parallel 2 2> " + log;
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
    _exit(127);
  }
  int port = 0;
  for (int i = 0; i < 600 && port == 0; ++i) {
    std::this_thread::sleep_for(50ms);
    std::smatch m;
    const std::string text = test::read_file(log);
    if (std::regex_search(text, m, std::regex("listening on http://127\\.0\\.0\\.1:(\\d+)"))) port = std::stoi(m[1]);
  }
  ASSERT_GT(port, 0) << test::read_file(log);
  std::string stream;
  std::thread client([&] {
    stream = raw_exchange(port, post("/v1/completions", R"({"prompt": "a", "max_tokens": 400, "ignore_eos": true, "stream": true})"));
  });
  while (stream.empty() && raw_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").find("mmfree_active_sequences 1") == std::string::npos) {
    std::this_thread::sleep_for(10ms);
  }
  kill(pid, SIGTERM);
  client.join();
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << test::read_file(log);
  EXPECT_NE(stream.find("\"finish_reason\":\"length\""), std::string::npos);
  EXPECT_NE(stream.find("data: [DONE]"), std::string::npos);
}

}  // namespace
}  // namespace mmfree::serve
