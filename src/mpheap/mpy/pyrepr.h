// Python repr() of .mpy constants, as mpy-tool.py prints them ('abc', b'\x00', 1.5, (1+2j)).
#pragma once

#include <string>
#include <string_view>

#include "mpheap/mpy/model.h"

namespace mpheap::mpy {

std::string py_repr(const Constant& c);
std::string py_str_repr(std::string_view utf8);
// The same appended to `out` (no temporary for the common kinds).
void append_py_repr(std::string& out, const Constant& c);
void append_py_str_repr(std::string& out, std::string_view utf8);
std::string py_bytes_repr(std::string_view bytes);
// repr(float): shortest round-trip digits, exponent form when the exponent is < -4 or >= 16.
std::string py_float_repr(double v);

}  // namespace mpheap::mpy
