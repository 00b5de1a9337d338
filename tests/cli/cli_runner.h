// Runs the `mpheap` executable the tests were built with and captures its output and status.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace mpheap::testing {

struct CliRun {
  int status = -1;
  std::string out;
};

// `mpheap ARGS`; stderr goes to the captured output when `merge_stderr`, else it is dropped.
inline CliRun run_mpheap(const std::string& args, bool merge_stderr = false) {
  std::string cmd =
      std::string(MPHEAP_CLI) + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace mpheap::testing
