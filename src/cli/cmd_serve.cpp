// mmfree serve: an OpenAI-compatible HTTP server with continuous batching (src/serve/, docs/SERVER.md).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/command.h"
#include "cli/default_model.h"
#include "cli/inputs.h"
#include "model/model.h"
#include "serve/http_server.h"
#include "serve/scheduler.h"
#include "util/error.h"

namespace mmfree::cli {
namespace {

struct ServeOptions {
  std::string model, tokenizer, alias, chat_template;
  DeviceOptions device;
  serve::SchedulerOptions sched;
  serve::HttpOptions http;
  int64_t grace_s = 30;
};

// The model's name in /v1/models: --alias, else the model file or directory's name.
std::string model_name(const ServeOptions& o) {
  if (!o.alias.empty()) return o.alias;
  const std::filesystem::path p = std::filesystem::path(o.model).lexically_normal();
  const std::string name = (p.has_filename() ? p : p.parent_path()).stem().string();
  return name.empty() ? "mmfree" : name;
}

// SIGTERM and SIGINT start a graceful stop. Libraries start threads of their own before main
// (OpenBLAS), so the signal may land on any thread: the handler only writes the signal's number to
// a pipe, and one thread of ours reads it.
int g_stop_pipe[2] = {-1, -1};

void on_stop_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = write(g_stop_pipe[1], &b, 1);
}

void catch_stop_signals() {
  check(pipe(g_stop_pipe) == 0, "cannot create a pipe for the stop signals");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client gone mid-write must not kill the server
}

// Blocks until a stop signal; returns its number.
int wait_stop_signal() {
  unsigned char b = 0;
  while (read(g_stop_pipe[0], &b, 1) != 1) {
  }
  return b;
}

void run(ServeOptions o) {
  catch_stop_signals();

  if (o.http.api_key.empty()) {
    if (const char* k = std::getenv("MMFREE_API_KEY")) o.http.api_key = k;
  }
  const auto model = Model::load(o.model, o.device);
  const ModelConfig& c = model->config();
  check(!o.tokenizer.empty() || !find_tokenizer_file(o.model).empty(),
        o.model + ": no tokenizer (tokenizer.json or tokenizer.model) in the model, which the server needs: give --tokenizer PATH");
  const auto tok = load_tokenizer(o.tokenizer.empty() ? o.model : o.tokenizer);
  check(tok->vocab_size() <= c.vocab_size, tok->name() + " has " + std::to_string(tok->vocab_size()) +
                                               " tokens but the model has a vocabulary of only " +
                                               std::to_string(c.vocab_size) + ": they do not belong together");
  std::string warning;
  o.http.chat_template = serve::choose_chat_template(o.chat_template, *tok, warning);
  if (!warning.empty()) std::fprintf(stderr, "mmfree serve: warning: %s\n", warning.c_str());
  o.http.model_name = model_name(o);
  o.http.limits.vocab = tok->vocab_size();
  o.http.limits.max_n = std::min<int64_t>(o.http.limits.max_n, o.sched.parallel);
  serve::Metrics metrics;
  serve::Scheduler scheduler(*model, tok.get(), o.sched, &metrics);
  serve::HttpServer http(*tok, tok->bos_id() >= 0 ? tok->bos_id() : c.bos_token_id, scheduler, metrics, o.http);
  const int port = http.bind();
  std::fprintf(stderr, "mmfree serve: listening on http://%s:%d (model %s, %lld slots, device %s, chat template: %s)\n",
               o.http.host.c_str(), port, o.http.model_name.c_str(), static_cast<long long>(o.sched.parallel),
               o.device.device.c_str(), o.http.chat_template.origin().c_str());
  std::thread stopper([&] {
    const int sig = wait_stop_signal();
    std::fprintf(stderr, "mmfree serve: %s: finishing what runs (up to %llds), then exiting\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 static_cast<long long>(o.grace_s));
    http.stop(o.grace_s * 1000);
  });
  http.run();
  stopper.join();
  std::fprintf(stderr, "mmfree serve: stopped\n");
}

void setup(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve",
                                 "Serve the model over HTTP: OpenAI-style /v1/completions and /v1/chat/completions "
                                 "(streaming), a chat page at /, metrics (docs/SERVER.md)");
  add_model_option(cmd, o->model);
  cmd->add_option("--tokenizer", o->tokenizer, "Tokenizer file or directory (default: the model's)");
  cmd->add_option("--host", o->http.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o->http.port, "Port to listen on (0: any free one, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--parallel", o->sched.parallel, "Sequences generated at once (state slots)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_option("--max-queue", o->sched.max_queue, "Requests waiting for a slot before more are answered 503")
      ->check(CLI::Range(int64_t{0}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", o->sched.prefill_chunk, "Prompt tokens read per step (all prompts together)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_option("--max-prompt-tokens", o->http.max_prompt_tokens, "Longest prompt accepted, in tokens")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  cmd->add_option("--max-tokens", o->http.limits.max_tokens, "Largest max_tokens a request may ask for")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  cmd->add_option("--default-max-tokens", o->http.limits.default_max_tokens, "max_tokens of a request that names none")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  cmd->add_option("--max-body", o->http.max_body_bytes, "Largest request body, in bytes")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--read-timeout", o->http.read_timeout_s, "Seconds a client may send nothing while its request is read")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--api-key", o->http.api_key,
                  "Require \"Authorization: Bearer KEY\" on every endpoint but / and /health (default: $MMFREE_API_KEY)");
  cmd->add_option("--chat-template", o->chat_template,
                  "Jinja chat template FILE for /v1/chat/completions, or 'plain' (default: the tokenizer's own, else plain)");
  cmd->add_option("--alias", o->alias, "The model's name in /v1/models and responses (default: the file's name)");
  cmd->add_option("--shutdown-grace", o->grace_s, "Seconds a SIGTERM leaves running requests to finish before cancelling them")
      ->check(CLI::Range(int64_t{0}, int64_t{3600}))
      ->capture_default_str();
  add_device_options(cmd, o->device);
  cmd->callback([o] {
    check(o->http.limits.default_max_tokens <= o->http.limits.max_tokens, "--default-max-tokens must be <= --max-tokens");
    run(*o);
  });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
