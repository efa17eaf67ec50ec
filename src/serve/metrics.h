#pragma once
// The server's counters, gauges and latency histograms, written as Prometheus text for
// GET /metrics. Every method may be called from any thread.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mmfree::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // The Prometheus lines of this histogram under `name` (no HELP/TYPE lines).
  std::string text(const std::string& name) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; one more for +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request(const std::string& endpoint, int status);  // one HTTP request answered
  void tokens(int64_t prompt, int64_t generated);
  void time_to_first_token(double seconds);
  void time_per_output_token(double seconds);  // between two tokens of one sequence
  void request_duration(double seconds);
  void step(int64_t batch_rows, double seconds);  // one scheduler step
  void cancelled();
  void set_load(int64_t queued, int64_t active);
  std::pair<int64_t, int64_t> load() const;  // queued, active

  std::string prometheus() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, generated_tokens_ = 0, cancelled_ = 0;
  int64_t queued_ = 0, active_ = 0;
  Histogram ttft_, tpot_, duration_, batch_, step_s_;
};

}  // namespace mmfree::serve
