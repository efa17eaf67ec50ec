#include "serve/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <random>
#include <thread>

#include "serve/api_error.h"
#include "serve/chat_page.h"
#include "serve/chat_template.h"
#include "serve/client_socket.h"
#include "serve/response.h"
#include "serve/task_queue.h"
#include "util/error.h"

namespace mmfree::serve {

// cpp-httplib 0.11 listens with a backlog of 5 (compiled into Debian's library): a burst of
// connections (64 streams opened at once) overflows it and some are reset. listen() again on the
// bound socket sets a deeper queue.
class Listener : public httplib::Server {
 public:
  void deepen_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

namespace {

using json = nlohmann::json;
constexpr auto kPoll = std::chrono::milliseconds(100);  // how often a waiting handler looks at its client

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.status == 503) res.set_header("Retry-After", "1");
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  send_json(res, e.status, error_json(e));
}

// Runs a handler, answering its ApiError (or any other failure) as an OpenAI-style error.
httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> fn) {
  return [fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
    try {
      fn(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, std::string("internal error: ") + e.what()));
    }
  };
}

// The metrics label of a path: the known routes by name, anything else as "other" (a client
// choosing paths must not grow the label set).
std::string endpoint_label(const std::string& path) {
  for (const char* p : {"/", "/health", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"}) {
    if (path == p) return path;
  }
  return "other";
}

// Comparison whose time does not depend on where the strings differ.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % std::max<size_t>(b.size(), 1)]);
  return diff == 0 && !b.empty();
}

}  // namespace

HttpServer::HttpServer(const Tokenizer& tok, int64_t bos_id, Scheduler& scheduler, Metrics& metrics, HttpOptions o)
    : tok_(tok), bos_id_(bos_id), scheduler_(scheduler), metrics_(metrics), opt_(std::move(o)),
      http_(std::make_unique<Listener>()) {
  // A connection holds a thread while it is served: at most enough for every slot, every queued
  // request, and a few more for /health, /metrics and the requests answered 503; threads idle for
  // 2 s end, down to 4 (task_queue.h says why).
  const auto threads = static_cast<size_t>(scheduler.options().parallel + scheduler.options().max_queue + 16);
  http_->new_task_queue = [threads] {
    return new ElasticTaskQueue(threads, 4, std::chrono::seconds(2));  // cpp-httplib takes ownership
  };
  http_->set_payload_max_length(static_cast<size_t>(opt_.max_body_bytes));
  http_->set_keep_alive_timeout(5);
  http_->set_read_timeout(opt_.read_timeout_s, 0);
  routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  const int port = opt_.port == 0 ? http_->bind_to_any_port(opt_.host) : (http_->bind_to_port(opt_.host, opt_.port) ? opt_.port : -1);
  check(port > 0, "cannot listen on " + opt_.host + ":" + std::to_string(opt_.port) +
                      " (the address is in use, not this machine's, or needs privileges)");
  http_->deepen_backlog();
  return port;
}

void HttpServer::run() { http_->listen_after_bind(); }

void HttpServer::stop(int64_t grace_ms) {
  stopping_ = true;
  scheduler_.drain(std::chrono::milliseconds(grace_ms));
  // The streams' last events are written by their own threads, a poll later at most.
  for (int i = 0; i < 100 && responding_ > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  http_->stop();
}

void HttpServer::routes() {
  httplib::Server& s = *http_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (opt_.api_key.empty() || req.path == "/" || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0 && same_secret(auth.substr(7), opt_.api_key)) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(401, auth.empty() ? "an API key is required: send \"Authorization: Bearer KEY\""
                                               : "the API key is not valid"));
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const std::string what = res.status == 404   ? "no such endpoint: " + req.method + " " + req.path.substr(0, 200)
                             : res.status == 413 ? "the request body is too large"
                                                 : "the request is not valid HTTP";
    send_json(res, res.status, error_json(ApiError(res.status, what)));
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, ApiError(500, "internal error"));
  });
  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_.request(endpoint_label(req.path), res.status);
  });

  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(chat_page_html()), "text/html; charset=utf-8");
  });
  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, stopping_ ? 503 : 200, {{"status", stopping_ ? "stopping" : "ok"}});
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.prometheus(), "text/plain; version=0.0.4");
  });
  s.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const json model = {{"id", opt_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "mmfree"}};
    send_json(res, 200, {{"object", "list"}, {"data", json::array({model})}});
  });
  s.Post("/tokenize", guarded([this](const httplib::Request& req, httplib::Response& res) {
    const TokenizeRequest t = parse_tokenize(req.body);
    std::vector<int32_t> ids;
    try {
      ids = tok_.encode(t.content, {.add_bos = t.add_special, .add_eos = t.add_special, .parse_special = t.parse_special});
    } catch (const Error& e) {
      throw bad_field("content", e.what());
    }
    json tokens = json::array();
    for (int32_t id : ids) tokens.push_back(t.with_pieces ? json{{"id", id}, {"piece", tok_.piece(id)}} : json(id));
    send_json(res, 200, {{"tokens", tokens}});
  }));
  s.Post("/detokenize", guarded([this](const httplib::Request& req, httplib::Response& res) {
    send_json(res, 200, {{"content", tok_.decode(parse_detokenize(req.body, tok_.vocab_size()))}});
  }));
  s.Post("/v1/completions", guarded([this](const httplib::Request& req, httplib::Response& res) { generation(Api::Completions, req, res); }));
  s.Post("/v1/chat/completions", guarded([this](const httplib::Request& req, httplib::Response& res) { generation(Api::Chat, req, res); }));
}

std::vector<int64_t> HttpServer::prompt_of(const ApiRequest& r) const {
  std::vector<int64_t> ids = r.prompt_ids;
  if (!r.prompt_is_ids) {
    // A completion prompt may name special tokens ("<s>"), as llama-server reads it; a chat is
    // read as its template says (chat_template.h).
    const bool chat = r.api == Api::Chat;
    const std::string text = chat ? opt_.chat_template.render(r.messages) : r.prompt_text;
    const auto enc = tok_.encode(text, {.add_bos = !chat || opt_.chat_template.add_bos(),
                                        .add_eos = false,
                                        .parse_special = !chat || opt_.chat_template.parse_special()});
    ids.assign(enc.begin(), enc.end());
  }
  if (ids.empty()) ids.push_back(bos_id_);  // an empty prompt starts from BOS
  const char* field = r.api == Api::Chat ? "messages" : "prompt";
  if (static_cast<int64_t>(ids.size()) > opt_.max_prompt_tokens) {
    throw bad_field(field, "is " + std::to_string(ids.size()) + " tokens, more than the server's limit of " +
                               std::to_string(opt_.max_prompt_tokens) + " (--max-prompt-tokens)");
  }
  return ids;
}

void HttpServer::generation(Api api, const httplib::Request& req, httplib::Response& res) {
  const ApiRequest r = parse_request(api, req.body, opt_.limits);
  if (r.n > scheduler_.options().parallel) {
    throw bad_field("n", "is " + std::to_string(r.n) + ", more than the server's " + std::to_string(scheduler_.options().parallel) + " slots (--parallel)");
  }
  auto job = std::make_shared<Job>();
  job->gen.prompt = prompt_of(r);
  job->gen.max_tokens = r.max_tokens;
  job->gen.sampler = r.sampler;
  if (!r.has_seed) job->gen.sampler.seed = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
  job->gen.stops = r.stops;
  if (api == Api::Chat) {
    for (const std::string& stop : opt_.chat_template.stops()) job->gen.stops.push_back(stop);
  }
  job->gen.ignore_eos = r.ignore_eos;
  job->n = r.n;
  job->logprobs = r.logprobs;
  if (stopping_) throw ApiError(503, "the server is shutting down");
  switch (scheduler_.submit(job)) {
    case Scheduler::Admission::Queued: break;
    case Scheduler::Admission::QueueFull: throw ApiError(503, "the server is busy: every slot and queue place is taken; retry later");
    case Scheduler::Admission::Stopping: throw ApiError(503, "the server is shutting down");
  }
  auto out = std::make_shared<Response>(api, r.model.empty() ? opt_.model_name : r.model, tok_, r.n,
                                        static_cast<int64_t>(job->gen.prompt.size()), r.logprobs >= 0);
  auto client = std::make_shared<ClientSocket>(req.remote_addr, req.remote_port, req.local_port);

  if (!r.stream) {
    std::vector<Event> events;
    std::string error;
    for (bool finished = false; !finished;) {
      finished = job->take(events, kPoll);
      for (const Event& e : events) {
        if (!e.error.empty()) error = e.error;
        out->add(e);
      }
      events.clear();
      if (!finished && !client->connected()) {
        job->cancel();  // nobody to answer: the slot is freed at the next step
        return;
      }
    }
    if (!error.empty()) throw ApiError(500, "generation failed: " + error);
    send_json(res, 200, out->whole());
    return;
  }

  ++responding_;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  const bool usage = r.include_usage;
  res.set_chunked_content_provider(
      "text/event-stream",
      [job, out, client, usage](size_t, httplib::DataSink& sink) {
        std::vector<Event> events;
        const bool finished = job->take(events, kPoll);
        std::string text;
        for (const Event& e : events) {
          if (!e.error.empty()) text += "data: " + dump(error_json(ApiError(500, "generation failed: " + e.error))) + "\n\n";
          const json chunk = out->add(e);
          if (!chunk.is_null()) text += "data: " + dump(chunk) + "\n\n";
        }
        if (finished) {
          if (usage) text += "data: " + dump(out->usage_chunk()) + "\n\n";
          text += "data: [DONE]\n\n";
        }
        if (!text.empty() && !sink.write(text.data(), text.size())) return false;  // gone: the releaser cancels
        if (finished) {
          sink.done();
          return true;
        }
        return text.empty() ? client->connected() : true;
      },
      [this, job](bool) {
        job->cancel();  // a no-op once it finished; else its slots are freed at the next step
        --responding_;
      });
}

}  // namespace mmfree::serve
