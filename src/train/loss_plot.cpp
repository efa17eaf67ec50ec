#include "train/loss_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/error.h"

namespace mmfree {

LossCurves read_loss_log(const std::string& path) {
  std::ifstream in(path);
  check(static_cast<bool>(in), "--log: cannot open " + path);
  LossCurves c;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto row = nlohmann::json::parse(line, nullptr, false);
    check(!row.is_discarded() && row.is_object(), path + ":" + std::to_string(line_no) + ": not a JSON object");
    if (!row.contains("step") || !row["step"].is_number()) continue;
    const double step = row["step"].get<double>();
    if (row.contains("loss") && row["loss"].is_number()) c.train.emplace_back(step, row["loss"].get<double>());
    if (row.contains("val_loss") && row["val_loss"].is_number()) c.val.emplace_back(step, row["val_loss"].get<double>());
  }
  check(!c.train.empty() || !c.val.empty(), path + ": no row with \"step\" and \"loss\" or \"val_loss\"");
  return c;
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) hi = lo + 1;
  count = std::max(count, 1);
  // Halves, so that a range of +-1e308 does not overflow to infinity.
  const double raw = (hi / 2 - lo / 2) / count * 2;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 5.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  // A step below the values' resolution (1e20 to 1e20 + 1 ulp) cannot advance: the ends alone.
  if (!std::isfinite(step) || !(step > 1e-12 * std::max(std::abs(lo), std::abs(hi)))) return {lo, hi};
  // Ticks by index, so that the loop runs a bounded number of times whatever the rounding.
  const double first = std::ceil(lo / step - 1e-9);
  std::vector<double> ticks;
  for (int i = 0; i <= 4 * count + 4; ++i) {
    const double t = (first + i) * step;
    if (!(t <= hi + 1e-9 * step)) break;
    ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  }
  if (ticks.empty()) ticks = {lo, hi};
  return ticks;
}

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '&') out += "&amp;";
    else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '"') out += "&quot;";
    else out += ch;
  }
  return out;
}

}  // namespace

std::string loss_plot_svg(const LossCurves& c, const std::string& title) {
  constexpr double W = 800, H = 500, left = 70, right = 20, top = 40, bottom = 55;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto* curve : {&c.train, &c.val})
    for (auto [x, y] : *curve)
      if (std::isfinite(y)) {
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  check(std::isfinite(x0), "the log holds no finite loss to plot");
  const auto xt = nice_ticks(x0, x1, 8), yt = nice_ticks(y0, y1, 6);
  x0 = std::min(x0, xt.front()), x1 = std::max(x1, xt.back());
  y0 = std::min(y0, yt.front()), y1 = std::max(y1, yt.back());
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  // Halves again: the span of +-1e308 is not a finite double.
  auto px = [&](double x) { return left + (x / 2 - x0 / 2) / (x1 / 2 - x0 / 2) * (W - left - right); };
  auto py = [&](double y) { return top + (y1 / 2 - y / 2) / (y1 / 2 - y0 / 2) * (H - top - bottom); };

  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << ' '
    << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << W / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" << escape(title) << "</text>\n";
  for (double t : xt) {
    s << "<line x1=\"" << num(px(t)) << "\" y1=\"" << num(top) << "\" x2=\"" << num(px(t)) << "\" y2=\"" << num(H - bottom)
      << "\" stroke=\"#e5e5e5\"/>\n";
    s << "<text x=\"" << num(px(t)) << "\" y=\"" << num(H - bottom + 18) << "\" text-anchor=\"middle\">" << label(t)
      << "</text>\n";
  }
  for (double t : yt) {
    s << "<line x1=\"" << num(left) << "\" y1=\"" << num(py(t)) << "\" x2=\"" << num(W - right) << "\" y2=\"" << num(py(t))
      << "\" stroke=\"#e5e5e5\"/>\n";
    s << "<text x=\"" << num(left - 8) << "\" y=\"" << num(py(t) + 4) << "\" text-anchor=\"end\">" << label(t) << "</text>\n";
  }
  s << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(W - left - right) << "\" height=\""
    << num(H - top - bottom) << "\" fill=\"none\" stroke=\"black\"/>\n";
  s << "<text x=\"" << num((left + W - right) / 2) << "\" y=\"" << num(H - 12) << "\" text-anchor=\"middle\">step</text>\n";
  s << "<text transform=\"translate(18 " << num((top + H - bottom) / 2) << ") rotate(-90)\" text-anchor=\"middle\">loss</text>\n";
  auto polyline = [&](const std::vector<std::pair<double, double>>& pts, const char* color, bool markers) {
    if (pts.empty()) return;
    s << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
    for (auto [x, y] : pts)
      if (std::isfinite(y)) s << num(px(x)) << ',' << num(py(y)) << ' ';
    s << "\"/>\n";
    if (markers)
      for (auto [x, y] : pts)
        if (std::isfinite(y)) s << "<circle cx=\"" << num(px(x)) << "\" cy=\"" << num(py(y)) << "\" r=\"3\" fill=\"" << color << "\"/>\n";
  };
  polyline(c.train, "#1f77b4", false);
  polyline(c.val, "#ff7f0e", true);
  // Legend, top right inside the frame.
  const double lx = W - right - 150, ly = top + 10;
  s << "<rect x=\"" << num(lx) << "\" y=\"" << num(ly) << "\" width=\"140\" height=\"46\" fill=\"white\" stroke=\"#999\"/>\n";
  const std::pair<const char*, const char*> entries[] = {{"#1f77b4", "train loss"}, {"#ff7f0e", "validation loss"}};
  for (int i = 0; i < 2; ++i) {
    const double y = ly + 15 + 18 * i;
    s << "<line x1=\"" << num(lx + 8) << "\" y1=\"" << num(y) << "\" x2=\"" << num(lx + 32) << "\" y2=\"" << num(y)
      << "\" stroke=\"" << entries[i].first << "\" stroke-width=\"2\"/>\n";
    s << "<text x=\"" << num(lx + 40) << "\" y=\"" << num(y + 4) << "\">" << entries[i].second << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace mmfree
