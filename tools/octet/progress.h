// A progress line for long loops (`octet eval`, `octet train`), written to stderr so stdout stays
// clean for results and --json. On a terminal it is one line redrawn in place, at most ~10 times
// a second; otherwise (logs, CI, pipes) it prints a plain line each time another 10% is done, so a
// log gets about ten lines however long the run.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace octet::cli {

class ProgressBar {
 public:
  // `label` starts every line ("eval"); `unit` names what is counted ("samples", "batches").
  // `total` <= 0 means unknown: no percentage or time left is shown.
  ProgressBar(std::string label, int64_t total, std::string unit = "samples");
  // For tests and callers that choose: writes to `out`, as a terminal or not; `enabled` false
  // prints nothing at all (--quiet).
  ProgressBar(std::string label, int64_t total, std::string unit, std::ostream& out, bool terminal,
              bool enabled = true);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  // Ends a line left open on a terminal (an exception thrown mid-loop), so an error message that
  // follows starts on its own line.
  ~ProgressBar();

  // Extra text shown after the status ("loss 0.3121 acc 88.90%"); kept until changed.
  void set_note(std::string note) { note_ = std::move(note); }
  void update(int64_t done);               // `done` items finished so far (absolute)
  void add(int64_t n) { update(done_ + n); }
  // Prints the final state (a terminal's line is completed with a newline). Idempotent.
  void finish();

  int64_t done() const { return done_; }
  double elapsed_s() const;

  // One status line, without the bar or line ending:
  // "4096/10000 41% 812 samples/s, 0:07 left" (rate and time left only once elapsed_s > 0).
  static std::string status(int64_t done, int64_t total, double elapsed_s, const std::string& unit);
  // "0:07", "12:05", "1:02:03".
  static std::string format_duration(double seconds);

 private:
  void draw(bool final_line);

  std::string label_;
  int64_t total_;
  std::string unit_;
  std::ostream& out_;
  bool terminal_;
  bool enabled_;
  std::string note_;
  int64_t done_ = 0;
  int last_decile_ = 0;      // non-terminal mode: deciles already reported
  bool line_open_ = false;   // terminal mode: a line without its newline is on screen
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace octet::cli
