#pragma once
// What the server's tests share (test_serve_http.cpp, test_serve_chat_template.cpp): the shipped
// default model loaded once per suite, a server on an ephemeral loopback port for one test, and the
// decode loop's greedy text as the reference a reply is held to.
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <span>
#include <string>
#include <thread>

#include "generate/generator.h"
#include "model/model.h"
#include "serve/http_server.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace mmfree::serve::test_serve {

// A suite on the default model (CPU, 2 threads) and its tokenizer, loaded once.
class DefaultModelSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::load(test::default_model(), DeviceOptions{.device = "cpu", .threads = 2, .isa = ""});
    tok_ = load_tokenizer(test::default_model());
  }
  static void TearDownTestSuite() {
    model_.reset();
    tok_.reset();
  }
  static inline std::unique_ptr<Model> model_;
  static inline std::unique_ptr<Tokenizer> tok_;
};

// The server of one test, on a port of its own, stopped when the test ends.
class TestServer {
 public:
  TestServer(const Model& m, const Tokenizer& tok, SchedulerOptions so, HttpOptions ho) {
    ho.host = "127.0.0.1";
    ho.port = 0;
    ho.limits.vocab = tok.vocab_size();
    sched_ = std::make_unique<Scheduler>(m, &tok, so, &metrics_);
    http_ = std::make_unique<HttpServer>(tok, tok.bos_id(), *sched_, metrics_, ho);
    port_ = http_->bind();
    thread_ = std::thread([this] { http_->run(); });
  }
  ~TestServer() {
    http_->stop(0);
    thread_.join();
  }
  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  Metrics& metrics() { return metrics_; }

 private:
  Metrics metrics_;
  std::unique_ptr<Scheduler> sched_;
  std::unique_ptr<HttpServer> http_;
  int port_ = 0;
  std::thread thread_;
};

// The text the CLI's decode loop gives greedily for prompt ids, one sequence alone.
inline std::string greedy_text(const Model& m, const Tokenizer& tok, std::span<const int32_t> ids, int max_tokens) {
  GenerateRequest g;
  g.prompt.assign(ids.begin(), ids.end());
  g.max_tokens = max_tokens;
  g.sampler.temperature = 0;
  std::string text;
  GenerateSink sink;
  sink.text = [&](std::string_view t) { text += t; };
  generate(m, &tok, g, sink);
  return text;
}

}  // namespace mmfree::serve::test_serve
