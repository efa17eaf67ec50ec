#include "serve/metrics.h"

#include <algorithm>
#include <cstdio>

namespace mmfree::serve {

namespace {
std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::vector<double> latency_bounds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}
}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const auto i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[i];
  sum_ += v;
  ++count_;
}

std::string Histogram::text(const std::string& name) const {
  std::string s;
  uint64_t cum = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cum += counts_[i];
    s += name + "_bucket{le=\"" + (i < bounds_.size() ? number(bounds_[i]) : "+Inf") + "\"} " + std::to_string(cum) + "\n";
  }
  s += name + "_sum " + number(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
  return s;
}

Metrics::Metrics()
    : ttft_(latency_bounds()),
      tpot_(latency_bounds()),
      duration_(latency_bounds()),
      batch_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512}),
      step_s_(latency_bounds()) {}

void Metrics::request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::tokens(int64_t prompt, int64_t generated) {
  std::lock_guard<std::mutex> lock(mu_);
  prompt_tokens_ += static_cast<uint64_t>(prompt);
  generated_tokens_ += static_cast<uint64_t>(generated);
}

void Metrics::time_to_first_token(double s) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_.observe(s);
}

void Metrics::time_per_output_token(double s) {
  std::lock_guard<std::mutex> lock(mu_);
  tpot_.observe(s);
}

void Metrics::request_duration(double s) {
  std::lock_guard<std::mutex> lock(mu_);
  duration_.observe(s);
}

void Metrics::step(int64_t batch_rows, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  batch_.observe(static_cast<double>(batch_rows));
  step_s_.observe(seconds);
}

void Metrics::cancelled() {
  std::lock_guard<std::mutex> lock(mu_);
  ++cancelled_;
}

void Metrics::set_load(int64_t queued, int64_t active) {
  std::lock_guard<std::mutex> lock(mu_);
  queued_ = queued;
  active_ = active;
}

std::pair<int64_t, int64_t> Metrics::load() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {queued_, active_};
}

std::string Metrics::prometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string s;
  const auto head = [&](const std::string& name, const std::string& type, const std::string& help) {
    s += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  head("mmfree_requests_total", "counter", "HTTP requests answered, by endpoint and status");
  for (const auto& [key, n] : requests_) {
    s += "mmfree_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " +
         std::to_string(n) + "\n";
  }
  head("mmfree_prompt_tokens_total", "counter", "Prompt tokens prefilled");
  s += "mmfree_prompt_tokens_total " + std::to_string(prompt_tokens_) + "\n";
  head("mmfree_generated_tokens_total", "counter", "Tokens generated");
  s += "mmfree_generated_tokens_total " + std::to_string(generated_tokens_) + "\n";
  head("mmfree_cancelled_total", "counter", "Sequences cancelled before their end (client gone, or shutdown)");
  s += "mmfree_cancelled_total " + std::to_string(cancelled_) + "\n";
  head("mmfree_queue_length", "gauge", "Requests waiting for a state slot");
  s += "mmfree_queue_length " + std::to_string(queued_) + "\n";
  head("mmfree_active_sequences", "gauge", "Sequences holding a state slot");
  s += "mmfree_active_sequences " + std::to_string(active_) + "\n";
  head("mmfree_batch_rows", "histogram", "Rows (tokens) per scheduler step, prefill and decode together");
  s += batch_.text("mmfree_batch_rows");
  head("mmfree_step_seconds", "histogram", "Time of one scheduler step");
  s += step_s_.text("mmfree_step_seconds");
  head("mmfree_time_to_first_token_seconds", "histogram", "From a request's arrival to its first token");
  s += ttft_.text("mmfree_time_to_first_token_seconds");
  head("mmfree_time_per_output_token_seconds", "histogram", "Between two consecutive tokens of one sequence");
  s += tpot_.text("mmfree_time_per_output_token_seconds");
  head("mmfree_request_duration_seconds", "histogram", "From a request's arrival to its last token");
  s += duration_.text("mmfree_request_duration_seconds");
  return s;
}

}  // namespace mmfree::serve
