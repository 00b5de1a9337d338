// Parses what micropython.mem_info(1) printed: the "GC:" and " No. of" lines and the block map
// lines after "GC memory layout" (without that line, whose address format varies by port).
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace mpheap::testing {

struct MemInfo {
  std::vector<std::string> gc_lines;
  std::vector<std::string> map_lines;
};

inline MemInfo parse_mem_info(const std::string& text) {
  MemInfo m;
  std::string body = text;
  // circuitpython-unix files hold gdb's copy first; the firmware's own output is last.
  if (auto p = body.find("--- firmware"); p != std::string::npos) body = body.substr(p);
  std::istringstream in(body);
  bool in_map = false;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with("GC:") || line.starts_with(" No. of")) m.gc_lines.push_back(line);
    if (line.starts_with("GC memory layout")) {
      in_map = true;
      continue;
    }
    if (in_map && !line.empty()) m.map_lines.push_back(line);
  }
  return m;
}

}  // namespace mpheap::testing
