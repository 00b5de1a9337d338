// gdb as a child process.
#include "mpheap/capture/gdb_run.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

namespace mpheap::capture {
namespace {

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string search_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return executable(name) ? name : "";
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (true) {
    auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (executable(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return "";
}

}  // namespace

Expected<std::string> find_gdb(const std::string& requested) {
  if (!requested.empty()) {
    std::string found = search_path(requested);
    if (found.empty())
      return Error{"--gdb", 0, 0,
                   fmt::format("'{}' is not an executable gdb (not found{})", requested,
                               requested.find('/') == std::string::npos ? " in PATH" : "")};
    return found;
  }
  for (const char* name : {"gdb-multiarch", "gdb"}) {
    std::string found = search_path(name);
    if (!found.empty()) return found;
  }
  return Error{"gdb", 0, 0,
               "neither gdb-multiarch nor gdb is installed (Debian: apt-get install "
               "gdb-multiarch), or pass --gdb PATH; --print-script prints the command file "
               "for a gdb elsewhere"};
}

std::uint64_t count_hook_stops(std::string_view piece, std::string& carry) {
  static constexpr std::string_view kStop = "\nBreakpoint 1, ";
  std::string text = carry;
  text.append(piece);
  std::uint64_t n = 0;
  for (std::size_t pos = 0; (pos = text.find(kStop, pos)) != std::string::npos; pos += kStop.size())
    ++n;
  // Keep enough of the end to find a marker cut in two.
  carry = text.size() > kStop.size() ? text.substr(text.size() - (kStop.size() - 1)) : text;
  return n;
}

Expected<GdbResult> run_gdb(const std::string& gdb, const std::string& script,
                            const std::string& log, const std::atomic<bool>* stop,
                            const std::function<void(std::uint64_t, double)>& progress) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Error{gdb, 0, 0, fmt::format("cannot create a pipe: {}", std::strerror(errno))};
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return Error{gdb, 0, 0, fmt::format("cannot start: {}", std::strerror(errno))};
  }
  if (pid == 0) {
    // Own process group: the terminal's Ctrl-C goes to mpheap, which passes it on.
    ::setpgid(0, 0);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    std::vector<std::string> args = {gdb, "-nx", "-batch", "-x", script};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(gdb.c_str(), argv.data());
    std::string msg = fmt::format("cannot run {}: {}\n", gdb, std::strerror(errno));
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);

  GdbResult result;
  const auto t0 = std::chrono::steady_clock::now();
  auto last_progress = t0;
  std::optional<std::chrono::steady_clock::time_point> interrupted_at;
  int forced = 0;
  std::ifstream log_in;
  std::string carry;
  std::vector<char> buf(1 << 16);
  auto read_log = [&] {
    if (!log_in.is_open()) {
      log_in.open(log, std::ios::binary);
      if (!log_in.is_open()) return;
    }
    for (;;) {
      log_in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      auto n = static_cast<std::size_t>(log_in.gcount());
      if (n > 0) result.events += count_hook_stops(std::string_view(buf.data(), n), carry);
      if (n < buf.size()) break;
    }
    log_in.clear();  // at the end: more may come
  };
  auto drain_pipe = [&] {
    for (;;) {
      ssize_t n = ::read(pipe_fds[0], buf.data(), buf.size());
      if (n <= 0) break;
      result.output.append(buf.data(), static_cast<std::size_t>(n));
      if (result.output.size() > (16U << 10))
        result.output.erase(0, result.output.size() - (16U << 10));
    }
  };
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    drain_pipe();
    read_log();
    if (done == pid) break;
    auto now = std::chrono::steady_clock::now();
    if (stop != nullptr && stop->load() && !interrupted_at) {
      // gdb interrupts the target, the script's `continue` returns, and it detaches and quits.
      ::kill(pid, SIGINT);
      interrupted_at = now;
      result.interrupted = true;
    }
    if (interrupted_at && now - *interrupted_at > std::chrono::seconds(10 + 5 * forced) &&
        forced < 2) {
      ::kill(pid, forced == 0 ? SIGTERM : SIGKILL);
      ++forced;
    }
    if (progress && now - last_progress > std::chrono::milliseconds(500)) {
      last_progress = now;
      progress(result.events, std::chrono::duration<double>(now - t0).count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  drain_pipe();
  ::close(pipe_fds[0]);
  read_log();
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (progress)
    progress(result.events,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return result;
}

Expected<bool> drop_last_stop(const std::string& log) {
  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(log, ec);
  if (ec) return Error{log, 0, 0, fmt::format("cannot read: {}", ec.message())};
  const std::uint64_t tail = std::min<std::uint64_t>(size, 1U << 20);
  std::ifstream in(log, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(size - tail));
  std::string text(tail, '\0');
  in.read(text.data(), static_cast<std::streamsize>(tail));
  if (!in) return Error{log, 0, size - tail, "cannot read"};
  auto at = text.rfind("\nBreakpoint 1, ");
  if (at == std::string::npos) return false;
  std::filesystem::resize_file(log, size - tail + at + 1, ec);
  if (ec) return Error{log, 0, 0, fmt::format("cannot truncate: {}", ec.message())};
  return true;
}

}  // namespace mpheap::capture
