// Whole-process runs for the benchmarks: a child started with posix_spawn, its stdout counted
// (or sent to a file), its stderr kept in a file or dropped, and its wall time and peak RSS.
// posix_spawn, not fork: a forked child's ru_maxrss starts from its parent's high-water mark
// and survives exec, so a benchmark that had grown would report its own peak for every child.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

extern char** environ;

namespace mpheap::bench {

struct ChildOptions {
  bool count_stdout = true;        // read stdout through a pipe and count it; else /dev/null
  std::string stderr_file;         // "" drops stderr
  bool own_process_group = false;  // a group of its own (kill -PGID reaches its children)
};

// Starts `args` (argv[0] looked up in PATH); -1 when it cannot be started. With count_stdout,
// `*stdout_fd` is the pipe's read end, to read until EOF and close.
inline pid_t spawn_child(const std::vector<std::string>& args, const ChildOptions& o,
                         int* stdout_fd = nullptr) {
  int fds[2] = {-1, -1};
  if (o.count_stdout && pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (o.count_stdout) {
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  const std::string err = o.stderr_file.empty() ? "/dev/null" : o.stderr_file;
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (o.own_process_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (o.count_stdout) close(fds[1]);
  if (spawned != 0) {
    if (o.count_stdout) close(fds[0]);
    return -1;
  }
  if (stdout_fd != nullptr) *stdout_fd = o.count_stdout ? fds[0] : -1;
  return pid;
}

struct ChildRun {
  int status = -1;  // exit status; -1 when it did not start or was killed by a signal
  double seconds = 0;
  double peak_rss_mib = 0;
  std::uint64_t out_bytes = 0;  // with count_stdout
};

// Runs `args` to the end: wall time from start to exit, peak RSS from wait4.
inline ChildRun run_child(const std::vector<std::string>& args, const ChildOptions& o = {}) {
  ChildRun r;
  const auto start = std::chrono::steady_clock::now();
  int out = -1;
  const pid_t pid = spawn_child(args, o, &out);
  if (pid < 0) return r;
  if (out >= 0) {
    std::vector<char> buf(1 << 20);
    for (ssize_t n; (n = read(out, buf.data(), buf.size())) > 0;)
      r.out_bytes += static_cast<std::uint64_t>(n);
    close(out);
  }
  int st = 0;
  rusage usage{};
  wait4(pid, &st, 0, &usage);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace mpheap::bench
