#include "util/progress.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace mmfree {

namespace {
std::atomic<bool> g_enabled{false};
}

void set_progress_enabled(bool on) { g_enabled = on; }
bool progress_enabled() { return g_enabled; }

// The live phases, innermost last, and the one thread that draws them while any is live.
struct ProgressBoard {
  std::mutex mu;
  std::condition_variable wake;
  std::vector<Progress*> live;
  std::thread ticker;
  bool drawn = false;

  static ProgressBoard& get() {
    static ProgressBoard board;
    return board;
  }

  // Under mu.
  void draw() {
    const Progress& p = *live.back();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.start_).count();
    if (elapsed < 0.5) return;  // short phases stay silent
    std::fprintf(stderr, "\r\x1b[K%s", progress_status(p.what_, p.done_, p.total_, p.unit_, elapsed, 20).c_str());
    std::fflush(stderr);
    drawn = true;
  }
  void clear() {
    if (drawn) std::fprintf(stderr, "\r\x1b[K"), std::fflush(stderr);
    drawn = false;
  }
  void run() {
    std::unique_lock lock(mu);
    while (!live.empty()) {
      draw();
      wake.wait_for(lock, std::chrono::milliseconds(250));
    }
    clear();
  }
  void add(Progress* p) {
    std::unique_lock lock(mu);
    live.push_back(p);
    if (live.size() == 1) ticker = std::thread([this] { run(); });  // remove() joined the last one
  }
  void remove(Progress* p) {
    std::thread done;
    {
      std::lock_guard lock(mu);
      if (const auto it = std::find(live.begin(), live.end(), p); it != live.end()) live.erase(it);
      clear();
      if (live.empty()) done = std::move(ticker);
    }
    wake.notify_all();
    if (done.joinable()) done.join();
  }
  ~ProgressBoard() {  // exit() while a phase is live: stop the ticker rather than wait for the phase
    {
      std::lock_guard lock(mu);
      live.clear();
    }
    wake.notify_all();
    if (ticker.joinable()) ticker.join();
  }
};

void print_above_progress(const std::string& line) {
  ProgressBoard& board = ProgressBoard::get();
  std::lock_guard lock(board.mu);
  board.clear();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

Progress::Progress(std::string what, double total, std::string unit)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), start_(std::chrono::steady_clock::now()) {
  if (!progress_enabled()) return;
  live_ = true;
  ProgressBoard::get().add(this);
}

Progress::~Progress() {
  if (live_) ProgressBoard::get().remove(this);
}

void Progress::update(double done) {
  if (!live_) return;
  std::lock_guard lock(ProgressBoard::get().mu);
  done_ = done;
}

void Progress::add(double amount) {
  if (!live_) return;
  std::lock_guard lock(ProgressBoard::get().mu);
  done_ += amount;
}

std::string progress_bar(double fraction, int width) {
  const size_t cells = static_cast<size_t>(std::max(width, 0));
  const size_t full = static_cast<size_t>(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(cells));
  std::string bar(cells + 2, '.');
  bar.front() = '[';
  bar.back() = ']';
  std::fill_n(bar.begin() + 1, full, '#');
  return bar;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long long s = std::llround(seconds);
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s / 60 % 60);
  return buf;
}

std::string format_rate(double v) {
  char buf[32];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else if (v >= 10 || v == 0) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.2g", v);  // slow work: "0.023 batches/s", not "0"
  return buf;
}

std::string format_bytes(double b) {
  char buf[32];
  if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

std::string progress_status(const std::string& what, double done, double total, const std::string& unit,
                            double elapsed_s, int bar_width) {
  const bool bytes = unit == "B";
  const auto amount = [&](double v) { return bytes ? format_bytes(v) : format_rate(v); };
  const std::string per = bytes ? "/s" : " " + unit + "/s";
  std::string line = what;
  if (total > 0) {
    const double f = std::clamp(done / total, 0.0, 1.0);
    char pct[16];
    std::snprintf(pct, sizeof pct, " %3.0f%% ", 100 * f);
    line += "  " + progress_bar(f, bar_width) + pct + amount(done) + "/" + amount(total) + (bytes ? "" : " " + unit);
  } else if (done > 0) {
    line += "  " + amount(done) + (bytes ? "" : " " + unit);
  }
  if (done > 0 && elapsed_s > 0) line += "  " + amount(done / elapsed_s) + per;
  line += "  " + format_duration(elapsed_s);
  if (total > 0 && done > 0 && done < total) line += "  ETA " + format_duration(elapsed_s * (total - done) / done);
  return line;
}

}  // namespace mmfree
