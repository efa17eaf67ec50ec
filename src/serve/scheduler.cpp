#include "serve/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "generate/continuation.h"
#include "util/error.h"

namespace mmfree::serve {

struct Scheduler::Sequence {
  Sequence(std::shared_ptr<Job> j, int64_t c, int32_t s, const GenerateRequest& req, const Tokenizer* tok, const ModelConfig& cfg)
      : job(std::move(j)), choice(c), slot(s), cont(req, tok, cfg.vocab_size, cfg.eos_token_id) {}
  std::shared_ptr<Job> job;
  int64_t choice;
  int32_t slot;
  Continuation cont;
  int64_t prefilled = 0;  // prompt tokens read so far
  bool dropped = false;   // cancelled before its end
  Job::clock::time_point last_token;
  int64_t prompt_size() const { return static_cast<int64_t>(job->gen.prompt.size()); }
};

namespace {

double seconds_since(Job::clock::time_point t, Job::clock::time_point now) {
  return std::chrono::duration<double>(now - t).count();
}

// The log-probability of `id` under softmax(logits) and, when top > 0, the `top` most likely tokens.
TokenLogprob logprobs_of(const float* logits, int64_t V, int64_t id, int64_t top, std::vector<int32_t>& order) {
  const float mx = *std::max_element(logits, logits + V);
  double z = 0;
  for (int64_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(logits[v] - mx));
  const double lse = mx + std::log(z);
  TokenLogprob t;
  t.id = id;
  t.logprob = static_cast<float>(logits[id] - lse);
  if (top > 0) {
    order.resize(static_cast<size_t>(V));
    std::iota(order.begin(), order.end(), 0);
    const auto k = static_cast<std::ptrdiff_t>(std::min(top, V));
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    for (std::ptrdiff_t i = 0; i < k; ++i) t.top.emplace_back(order[i], static_cast<float>(logits[order[i]] - lse));
  }
  return t;
}

}  // namespace

Scheduler::Scheduler(const Model& model, const Tokenizer* tok, const SchedulerOptions& o, Metrics* metrics)
    : model_(model),
      tok_(tok),
      opt_(o),
      metrics_(metrics),
      states_(model, (check(o.parallel >= 1 && o.parallel <= 65536, "--parallel must be in [1, 65536]"), o.parallel)),
      ws_(model, (check(o.prefill_chunk >= 1 && o.prefill_chunk <= 65536, "--prefill-chunk must be in [1, 65536]"),
                  std::max(o.parallel, o.prefill_chunk))) {
  check(o.max_queue >= 0, "--max-queue must be >= 0");
  const int64_t rows = std::max(o.parallel, o.prefill_chunk);
  logits_.resize(static_cast<size_t>(o.parallel * model.config().vocab_size));
  tokens_.resize(static_cast<size_t>(rows));
  slots_.resize(static_cast<size_t>(rows));
  for (int64_t s = o.parallel - 1; s >= 0; --s) free_slots_.push_back(static_cast<int32_t>(s));
  free_count_ = o.parallel;
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = cancel_all_ = exit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Scheduler::Admission Scheduler::submit(std::shared_ptr<Job> job) {
  check(job->n >= 1 && job->n <= opt_.parallel && !job->gen.prompt.empty(), "internal: a job the scheduler cannot run");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Admission::Stopping;
    // Choices beyond the free slots wait; at most max_queue of them.
    if (queued_choices_ + job->n > free_count_ + opt_.max_queue) return Admission::QueueFull;
    queued_choices_ += job->n;
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
  return Admission::Queued;
}

void Scheduler::drain(std::chrono::milliseconds grace) {
  const auto deadline = Job::clock::now() + grace;
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  const auto idle = [&] { return queue_.empty() && busy_ == 0; };
  if (!idle_cv_.wait_until(lock, deadline, idle)) {
    cancel_all_ = true;
    cv_.notify_all();
    idle_cv_.wait(lock, idle);
  }
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return exit_ || !queue_.empty() || !running_.empty(); });
      if (exit_ && queue_.empty() && running_.empty()) return;
    }
    try {
      step();
    } catch (const std::exception& e) {  // e.g. out of memory in a backend: fail what runs, keep serving
      fail_all(e.what());
    }
  }
}

void Scheduler::step() {
  const auto t0 = Job::clock::now();
  admit();
  drop_cancelled();
  rows_ = 0;
  decode();
  prefill();
  retire_done();
  std::lock_guard<std::mutex> lock(mu_);
  busy_ = static_cast<int64_t>(running_.size());
  free_count_ = static_cast<int64_t>(free_slots_.size());
  if (metrics_) {
    if (rows_ > 0) metrics_->step(rows_, seconds_since(t0, Job::clock::now()));
    metrics_->set_load(static_cast<int64_t>(queue_.size()), busy_);
  }
  if (busy_ == 0 && queue_.empty()) idle_cv_.notify_all();
}

void Scheduler::admit() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!queue_.empty()) {
    std::shared_ptr<Job> job = queue_.front();
    if (job->cancelled() || cancel_all_) {
      for (int64_t c = 0; c < job->n; ++c) job->push(Event::end(c, "cancelled"));
      queued_choices_ -= job->n;
      queue_.pop_front();
      continue;
    }
    if (static_cast<int64_t>(free_slots_.size()) < job->n) break;  // first come, first served
    queued_choices_ -= job->n;
    queue_.pop_front();
    if (metrics_) metrics_->tokens(static_cast<int64_t>(job->gen.prompt.size()), 0);
    for (int64_t c = 0; c < job->n; ++c) {
      GenerateRequest req = job->gen;
      req.sampler.seed += static_cast<uint64_t>(c);  // choices differ, and each is reproducible
      const int32_t slot = free_slots_.back();
      states_.reset(slot);
      try {
        running_.push_back(std::make_unique<Sequence>(job, c, slot, req, tok_, model_.config()));
        free_slots_.pop_back();
      } catch (const Error& e) {
        job->push(Event::end(c, "error", e.what()));
      }
    }
  }
  busy_ = static_cast<int64_t>(running_.size());
  free_count_ = static_cast<int64_t>(free_slots_.size());
}

void Scheduler::drop_cancelled() {
  bool all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all = cancel_all_;
  }
  for (auto& s : running_) {
    if (!s->cont.done() && (all || s->job->cancelled())) {
      s->job->push(Event::end(s->choice, "cancelled"));
      s->job->cancel();
      s->dropped = true;
      free_slots_.push_back(s->slot);
      if (metrics_) metrics_->cancelled();
    }
  }
  std::erase_if(running_, [](const auto& s) { return s->dropped; });
}

void Scheduler::decode() {
  int64_t B = 0;
  std::vector<Sequence*>& batch = batch_;
  batch.clear();
  for (auto& s : running_) {
    if (s->prefilled == s->prompt_size() && !s->cont.done() && !s->job->cancelled()) {
      tokens_[static_cast<size_t>(B)] = s->cont.last();
      slots_[static_cast<size_t>(B)] = s->slot;
      batch.push_back(s.get());
      ++B;
    }
  }
  if (B == 0) return;
  rows_ += B;
  const int64_t V = model_.config().vocab_size;
  const std::span<const int32_t> slots(slots_.data(), static_cast<size_t>(B));
  // On a GPU each sequence's sampler choices are selected there (the logits of 64 sequences are 8 MB
  // at V 32000; their top 40, 20 KB), unless a sequence wants log-probabilities of the whole vocabulary.
  if (!model_.backend().host_memory() && std::none_of(batch.begin(), batch.end(), [](const Sequence* s) { return s->job->logprobs >= 0; })) {
    int64_t k = 1;
    how_.clear();
    for (Sequence* s : batch) {
      k = std::max(k, s->cont.choices());
      how_.push_back(s->cont.choice_row());
    }
    choices_.resize(static_cast<size_t>(B * k));  // grows to the largest batch once
    model_.forward_select(tokens_.data(), B, 1, slots, states_, ws_, how_, k, choices_.data());
    for (int64_t b = 0; b < B; ++b) {
      Sequence& s = *batch[static_cast<size_t>(b)];
      advance(s, nullptr, {choices_.data() + b * k, static_cast<size_t>(s.cont.choices())});
    }
    return;
  }
  model_.forward(tokens_.data(), B, 1, slots, states_, ws_, logits_.data(), false);
  for (int64_t b = 0; b < B; ++b) advance(*batch[static_cast<size_t>(b)], logits_.data() + b * V);
}

void Scheduler::prefill() {
  std::vector<Sequence*>& batch = batch_;
  batch.clear();
  int64_t T = opt_.prefill_chunk;
  for (auto& s : running_) {
    if (s->prefilled < s->prompt_size() && !s->job->cancelled() && static_cast<int64_t>(batch.size()) < opt_.prefill_chunk) {
      batch.push_back(s.get());
      T = std::min(T, s->prompt_size() - s->prefilled);
    }
  }
  const auto B = static_cast<int64_t>(batch.size());
  if (B == 0) return;
  T = std::max<int64_t>(1, std::min(T, opt_.prefill_chunk / B));  // B * T rows within the budget
  for (int64_t b = 0; b < B; ++b) {
    const Sequence& s = *batch[static_cast<size_t>(b)];
    std::copy_n(s.job->gen.prompt.begin() + s.prefilled, T, tokens_.begin() + b * T);
    slots_[static_cast<size_t>(b)] = s.slot;
  }
  model_.forward(tokens_.data(), B, T, {slots_.data(), static_cast<size_t>(B)}, states_, ws_, logits_.data(), false);
  rows_ += B * T;
  const int64_t V = model_.config().vocab_size;
  for (int64_t b = 0; b < B; ++b) {
    Sequence& s = *batch[static_cast<size_t>(b)];
    s.prefilled += T;
    if (s.prefilled == s.prompt_size()) advance(s, logits_.data() + b * V);
  }
}

void Scheduler::advance(Sequence& s, const float* logits, std::span<const TokenChoice> top) {
  Event e;
  e.choice = s.choice;
  GenerateSink sink;
  sink.text = [&](std::string_view t) { e.text.append(t); };
  const bool done = logits ? s.cont.step(logits, sink) : s.cont.step_of(top, sink);
  e.has_token = true;
  const int64_t V = model_.config().vocab_size;
  if (s.job->logprobs >= 0) e.token = logprobs_of(logits, V, s.cont.last(), s.job->logprobs, order_);
  e.token.id = s.cont.last();
  const auto now = Job::clock::now();
  if (metrics_) {
    metrics_->tokens(0, 1);
    if (s.cont.ids().size() == 1) {
      metrics_->time_to_first_token(seconds_since(s.job->submitted, now));
    } else {
      metrics_->time_per_output_token(seconds_since(s.last_token, now));
    }
    if (done) metrics_->request_duration(seconds_since(s.job->submitted, now));
  }
  s.last_token = now;
  if (done) e.finish_reason = s.cont.stop_reason() == "length" ? "length" : "stop";  // OpenAI: eos and stop strings are both "stop"
  s.job->push(std::move(e));
}

void Scheduler::retire_done() {
  for (auto& s : running_) {
    if (s->cont.done()) free_slots_.push_back(s->slot);
  }
  std::erase_if(running_, [](const auto& s) { return s->cont.done(); });
}

void Scheduler::fail_all(const std::string& message) {
  for (auto& s : running_) {
    s->job->push(Event::end(s->choice, "error", message));
    s->job->cancel();
    free_slots_.push_back(s->slot);
  }
  running_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  busy_ = 0;
  free_count_ = static_cast<int64_t>(free_slots_.size());
  if (queue_.empty()) idle_cv_.notify_all();
}

}  // namespace mmfree::serve
