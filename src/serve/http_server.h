#pragma once
// The HTTP side of `mmfree serve`, on cpp-httplib (Debian's libcpp-httplib-dev; docs/SERVER.md
// says why): routes, the API key, body and queue limits, server-sent-event streaming, and
// noticing a client that went away. Each connection is served by a thread of a fixed pool; the
// model itself runs only on the scheduler's thread.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "serve/chat_template.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "serve/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace mmfree::serve {

class Listener;  // httplib::Server with a deeper accept queue (http_server.cpp)

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;               // 0: any free port (bind() says which)
  std::string api_key;           // required as "Authorization: Bearer KEY" when not empty
  std::string model_name = "mmfree";
  int64_t max_body_bytes = 1 << 20;
  int read_timeout_s = 5;        // a client that sends nothing for this long is dropped
  int64_t max_prompt_tokens = 8192;
  RequestLimits limits;          // limits.vocab: the tokenizer's
  ChatTemplate chat_template;    // the plain one unless set
};

class HttpServer {
 public:
  HttpServer(const Tokenizer& tok, int64_t bos_id, Scheduler& scheduler, Metrics& metrics, HttpOptions o);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket; returns the port. Throws Error when the address cannot be bound.
  int bind();
  // Serves until stop(); returns then.
  void run();
  // Graceful stop: new generations are answered 503; running ones get up to grace_ms to finish,
  // then are cancelled; the listener closes once their responses are written. Any thread.
  void stop(int64_t grace_ms);

 private:
  void routes();
  // The prompt of a request as token ids; throws ApiError when over the limit.
  std::vector<int64_t> prompt_of(const ApiRequest& r) const;
  // POST /v1/completions and /v1/chat/completions.
  void generation(Api api, const httplib::Request& req, httplib::Response& res);

  const Tokenizer& tok_;
  int64_t bos_id_;
  Scheduler& scheduler_;
  Metrics& metrics_;
  HttpOptions opt_;
  std::unique_ptr<Listener> http_;
  std::atomic<int64_t> responding_{0};  // streamed responses not yet fully written
  std::atomic<bool> stopping_{false};
};

}  // namespace mmfree::serve
