#pragma once
// Progress of long work (loading, saving, scoring, preparing) as one status line on stderr:
// what, a bar, done/total, rate and ETA when the total is known, else the amount done and the
// time so far. Library code marks its long phases with a Progress object and updates it; nothing
// is drawn unless the program turned progress on (mmfree does when stderr is a terminal and the
// output is not --json), so library users and tests see no output.
#include <chrono>
#include <string>

namespace mmfree {

void set_progress_enabled(bool on);
bool progress_enabled();

// Prints a line of news on stderr, first clearing a progress line drawn there (redrawn at the next tick).
void print_above_progress(const std::string& line);

// A phase of long work. The innermost live one is drawn, redrawn by a ticker thread every 0.25 s
// (so the time moves even while nothing is reported), and its line is cleared when it ends.
// update()/add() may be called from any thread.
class Progress {
 public:
  // `unit` "B" shows bytes (kB/MB/GB); any other word follows the counts ("tokens"). total 0: unknown.
  explicit Progress(std::string what, double total = 0, std::string unit = "");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(double done);
  void add(double amount);

 private:
  friend struct ProgressBoard;
  std::string what_, unit_;
  double total_ = 0, done_ = 0;
  std::chrono::steady_clock::time_point start_;
  bool live_ = false;  // registered with the board (progress was on when it began)
};

// The line for a phase: pure, for tests. A bar of `bar_width` cells when the total is known.
std::string progress_status(const std::string& what, double done, double total, const std::string& unit,
                            double elapsed_s, int bar_width);

// "[#####.....]" for a fraction in [0, 1].
std::string progress_bar(double fraction, int width);
// "42s", "3m05s", "2h07m"; "?" for a negative or non-finite time.
std::string format_duration(double seconds);
// "12.3k" for 12345, "512", "2.5", "0.023": counts and rates at a glance.
std::string format_rate(double per_second);
// "812 B", "12.3 kB", "4.49 GB" (powers of 1000, as file sizes are quoted in the docs).
std::string format_bytes(double bytes);

}  // namespace mmfree
