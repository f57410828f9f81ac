#include "tools/octet/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace octet::cli {

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : ProgressBar(std::move(label), total, std::move(unit), std::cerr, ::isatty(STDERR_FILENO) == 1) {}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit, std::ostream& out,
                         bool terminal, bool enabled)
    : label_(std::move(label)), total_(total), unit_(std::move(unit)), out_(out), terminal_(terminal),
      enabled_(enabled), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  if (enabled_ && line_open_) {
    out_ << "\n";
    out_.flush();
  }
}

double ProgressBar::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

std::string ProgressBar::status(int64_t done, int64_t total, double elapsed_s, const std::string& unit) {
  std::ostringstream os;
  os << done;
  if (total > 0) os << "/" << total << " " << (100 * done / total) << "%";
  else os << " " << unit;
  if (elapsed_s > 0 && done > 0) {
    const double rate = done / elapsed_s;
    char buf[32];
    std::snprintf(buf, sizeof buf, rate >= 100 ? "%.0f" : "%.1f", rate);
    os << " " << buf << " " << unit << "/s";
    if (total > 0 && done < total) os << ", " << format_duration((total - done) / rate) << " left";
    else if (total > 0) os << ", took " << format_duration(elapsed_s);
  }
  return os.str();
}

void ProgressBar::draw(bool final_line) {
  const int64_t shown = total_ > 0 ? std::min(done_, total_) : done_;
  std::string line = label_ + " ";
  if (total_ > 0) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * shown / total_);
    line += "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
  }
  line += status(shown, total_, elapsed_s(), unit_);
  if (!note_.empty()) line += "  " + note_;
  // "\33[K" clears what a longer previous line left to the right.
  out_ << "\r" << line << "\33[K";
  if (final_line) {
    out_ << "\n";
    line_open_ = false;
  } else {
    line_open_ = true;
  }
  out_.flush();
}

void ProgressBar::update(int64_t done) {
  done_ = done;
  if (!enabled_ || finished_) return;
  if (terminal_) {
    const auto now = std::chrono::steady_clock::now();
    if (line_open_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    draw(false);
    return;
  }
  if (total_ <= 0) return;
  const int decile = static_cast<int>(10 * std::min(done_, total_) / total_);
  if (decile > last_decile_ && decile < 10) {  // 100% is reported by finish()
    last_decile_ = decile;
    out_ << label_ << ": " << status(done_, total_, elapsed_s(), unit_) << (note_.empty() ? "" : "  ") << note_ << "\n";
    out_.flush();
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  if (terminal_) {
    draw(true);
  } else {
    out_ << label_ << ": " << status(total_ > 0 ? std::min(done_, total_) : done_, total_, elapsed_s(), unit_)
         << "\n";
    out_.flush();
  }
}

}  // namespace octet::cli
