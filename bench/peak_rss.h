// Peak memory of the running benchmark, as every bench/ program reports it.
#pragma once

#include <sys/resource.h>

// Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB).
inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}
