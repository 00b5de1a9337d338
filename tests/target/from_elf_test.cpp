// The ELF path of target descriptions: small C programs of our own, shaped like a MicroPython
// build's state (tests/target/programs/), are compiled now with the host gcc/clang and with
// arm-none-eabi-gcc; everything mpheap reads is checked against what the compiler put there,
// read back through binutils (nm, readelf) and the programs' own offsetof() table, so no
// offset or address is written in this file.
#include "mpheap/target/from_elf.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "target/programs/facts.h"
}

namespace mpheap::target {
namespace {

namespace fs = std::filesystem;

const std::string kPrograms = MPHEAP_TARGET_PROGRAMS;

std::string run(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int rc = pclose(pipe);
  if (status != nullptr) *status = rc;
  return out;
}

bool have(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

struct Toolchain {
  std::string name;
  std::string compiler;
  std::string flags;  // debug info and optimisation
  std::string nm;
  std::string readelf;
  bool arm = false;
};

const std::vector<Toolchain>& toolchains() {
  static const std::vector<Toolchain> all = {
      {"host_gcc", "gcc", "-g -O0", "nm", "readelf", false},
      {"host_gcc_dwarf4_O2", "gcc", "-gdwarf-4 -O2", "nm", "readelf", false},
      {"host_gcc_dwarf2", "gcc", "-gdwarf-2 -O0", "nm", "readelf", false},
      {"host_clang", "clang", "-g -O0", "nm", "readelf", false},
      // lld leaves the pointers of a PIE's RELA relocations zero in the file.
      {"host_clang_lld", "clang", "-g -O0 -fuse-ld=lld", "nm", "readelf", false},
      {"arm_gcc", "arm-none-eabi-gcc", "-g -O0", "arm-none-eabi-nm", "arm-none-eabi-readelf", true},
      {"arm_gcc_dwarf4_Os", "arm-none-eabi-gcc", "-gdwarf-4 -Os", "arm-none-eabi-nm",
       "arm-none-eabi-readelf", true},
  };
  return all;
}

const Toolchain& toolchain(const std::string& name) {
  for (const Toolchain& t : toolchains())
    if (t.name == name) return t;
  return toolchains().front();
}

// One temporary directory for the whole test binary, removed at exit.
class Workdir {
 public:
  Workdir() {
    std::string pattern = (fs::temp_directory_path() / "mpheap_elf_XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~Workdir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::string& workdir() {
  static Workdir dir;
  return dir.path();
}

// Builds programs/<program>.c with a toolchain (cached); "" and a reason when it cannot.
std::string build(const Toolchain& tc, const std::string& program, std::string* why,
                  const std::string& extra = "") {
  static std::map<std::string, std::string> cache;
  const std::string key = tc.name + "/" + program + extra;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (!have(tc.compiler)) {
    *why = tc.compiler + " is not installed";
    return "";
  }
  std::string out = workdir() + "/" + program + "_" + tc.name +
                    (extra.empty() ? "" : std::to_string(cache.size()));
  std::string command = tc.compiler + " " + tc.flags + " " + extra + " -I'" + kPrograms + "' ";
  if (tc.arm) {
    command +=
        "-mcpu=cortex-m0 -mthumb -nostdlib -ffreestanding -Wl,-e,0 "
        "-Wl,--no-warn-rwx-segments -T '" +
        kPrograms + "/cortex_m0.ld' ";
  }
  command += "-o '" + out + "' '" + kPrograms + "/" + program + ".c'";
  int status = 0;
  std::string log = run(command, &status);
  if (status != 0) {
    *why = "compiling failed: " + command + "\n" + log;
    return "";
  }
  cache[key] = out;
  return out;
}

struct NmSymbol {
  std::uint64_t address = 0;
  std::uint64_t size = 0;
  char kind = '?';
};

// `nm -S --defined-only`: name -> symbols of that name.
std::multimap<std::string, NmSymbol> nm_symbols(const Toolchain& tc, const std::string& elf) {
  std::multimap<std::string, NmSymbol> out;
  std::istringstream lines(run(tc.nm + " -S --defined-only '" + elf + "'"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string s; fields >> s;) f.push_back(s);
    NmSymbol s;
    if (f.size() == 3) {
      s.address = std::stoull(f[0], nullptr, 16);
      s.kind = f[1][0];
      out.emplace(f[2], s);
    } else if (f.size() == 4) {
      s.address = std::stoull(f[0], nullptr, 16);
      s.size = std::stoull(f[1], nullptr, 16);
      s.kind = f[2][0];
      out.emplace(f[3], s);
    }
  }
  return out;
}

std::uint64_t nm_address(const std::multimap<std::string, NmSymbol>& nm, const std::string& n) {
  auto it = nm.find(n);
  EXPECT_NE(it, nm.end()) << n;
  return it == nm.end() ? 0 : it->second.address;
}

struct ReadelfSection {
  std::string name;
  std::uint64_t address = 0, offset = 0, size = 0;
};

std::vector<ReadelfSection> readelf_sections(const Toolchain& tc, const std::string& elf) {
  std::vector<ReadelfSection> out;
  std::istringstream lines(run(tc.readelf + " -SW '" + elf + "'"));
  std::string line;
  while (std::getline(lines, line)) {
    auto close = line.find(']');
    if (line.find('[') == std::string::npos || close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 1));
    ReadelfSection s;
    std::string type, address, offset, size;
    if (!(fields >> s.name >> type >> address >> offset >> size)) continue;
    if (address.find_first_not_of("0123456789abcdef") != std::string::npos) continue;
    s.address = std::stoull(address, nullptr, 16);
    s.offset = std::stoull(offset, nullptr, 16);
    s.size = std::stoull(size, nullptr, 16);
    out.push_back(s);
  }
  return out;
}

struct ReadelfSegment {
  std::uint64_t vaddr = 0, memsz = 0;
  bool writable = false;
};

std::vector<ReadelfSegment> readelf_loads(const Toolchain& tc, const std::string& elf) {
  std::vector<ReadelfSegment> out;
  std::istringstream lines(run(tc.readelf + " -lW '" + elf + "'"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string s; fields >> s;) f.push_back(s);
    if (f.size() < 8 || f[0] != "LOAD") continue;
    ReadelfSegment s;
    s.vaddr = std::stoull(f[2], nullptr, 16);
    s.memsz = std::stoull(f[5], nullptr, 16);
    for (std::size_t i = 6; i + 1 < f.size(); ++i)
      s.writable |= f[i].find('W') != std::string::npos;
    if (s.memsz != 0) out.push_back(s);
  }
  return out;
}

// The program's layout_facts[] read from the file through nm and readelf.
std::vector<std::uint32_t> layout_facts(const Toolchain& tc, const std::string& elf) {
  auto nm = nm_symbols(tc, elf);
  const std::uint64_t address = nm_address(nm, "layout_facts");
  std::string bytes = slurp(elf);
  for (const ReadelfSection& s : readelf_sections(tc, elf)) {
    if (s.size == 0 || address < s.address || address - s.address >= s.size) continue;
    std::vector<std::uint32_t> facts;
    const std::uint64_t at = s.offset + (address - s.address);
    for (std::size_t i = 0; i < FACT_COUNT && at + 4 * i + 4 <= bytes.size(); ++i) {
      std::uint32_t v = 0;
      for (int b = 3; b >= 0; --b) v = (v << 8) | static_cast<unsigned char>(bytes[at + 4 * i + b]);
      facts.push_back(v);
    }
    return facts;
  }
  ADD_FAILURE() << "layout_facts not found in " << elf;
  return {};
}

void expect_fact(const std::vector<std::uint32_t>& facts, int index, const Offset& got,
                 const char* what) {
  ASSERT_LT(static_cast<std::size_t>(index), facts.size());
  if (facts[index] == FACT_ABSENT) {
    EXPECT_FALSE(got.has_value()) << what << " should be absent, got " << got.value_or(0);
  } else {
    ASSERT_TRUE(got.has_value()) << what << " not found";
    EXPECT_EQ(*got, facts[index]) << what;
  }
}

struct Expectations {
  std::vector<std::string> qstrs;
  std::map<std::string, std::string> types;  // symbol -> Python name
};

Expectations expected(const std::string& program) {
  const std::vector<std::string> head = {"",     "",    "__dir__", "\n",    "list",
                                         "dict", "int", "type",    "object"};
  Expectations e;
  e.qstrs = head;
  if (program == "state_old") {
    e.qstrs.insert(e.qstrs.end(), {"str", "workload", "Pin", "NoneType"});
    e.types = {{"mp_type_type", "type"},
               {"mp_type_list", "list"},
               {"mp_type_str", "str"},
               {"mp_type_NoneType", "NoneType"}};
    return e;
  }
  e.qstrs.insert(e.qstrs.end(), {"OrderedDict", "bytearray", "hello world"});
  if (program == "state_new") e.qstrs.insert(e.qstrs.end(), {"workload", "dyn_attr", "Pin"});
  e.types = {{"mp_type_type", "type"},
             {"mp_type_list", "list"},
             {"mp_type_dict", "dict"},
             {"mp_type_int", "int"},
             {"mp_type_ordereddict", "OrderedDict"},
             {"machine_pin_type", program == "state_new" ? "Pin" : "object"}};
  return e;
}

using Case = std::tuple<std::string, std::string>;  // toolchain, program

class ElfTargetProgram : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    tc_ = &toolchain(std::get<0>(GetParam()));
    program_ = std::get<1>(GetParam());
    std::string why;
    elf_ = build(*tc_, program_, &why);
    if (elf_.empty()) GTEST_SKIP() << why;
    if (!have(tc_->nm) || !have(tc_->readelf)) GTEST_SKIP() << tc_->nm << " is not installed";
    auto t = read_elf_target(elf_);
    ASSERT_TRUE(t) << t.error().message();
    target_ = std::move(*t);
  }
  const Toolchain* tc_ = nullptr;
  std::string program_;
  std::string elf_;
  Target target_;
};

TEST_P(ElfTargetProgram, HeaderFacts) {
  EXPECT_EQ(target_.word_size, tc_->arm ? 4u : sizeof(void*));
  EXPECT_TRUE(target_.little_endian);
  EXPECT_EQ(target_.machine, tc_->arm ? "ARM" : "x86-64");
  EXPECT_EQ(target_.block_size, 4 * target_.word_size);
  EXPECT_NE(target_.provenance.layout.find("default of 4 words"), std::string::npos);
}

TEST_P(ElfTargetProgram, StateLayoutMatchesOffsetof) {
  auto facts = layout_facts(*tc_, elf_);
  ASSERT_EQ(facts.size(), static_cast<std::size_t>(FACT_COUNT));
  const StateLayout& s = target_.state;
  EXPECT_EQ(s.size, facts[FACT_CTX_SIZE]);
  expect_fact(facts, FACT_MEM_AREA, s.mem_area, "mem.area");
  EXPECT_EQ(s.area.size, facts[FACT_AREA_SIZE]);
  expect_fact(facts, FACT_AREA_ALLOC_TABLE_START, s.area.gc_alloc_table_start,
              "gc_alloc_table_start");
  expect_fact(facts, FACT_AREA_ALLOC_TABLE_BYTE_LEN, s.area.gc_alloc_table_byte_len,
              "gc_alloc_table_byte_len");
  expect_fact(facts, FACT_AREA_FINALISER_TABLE_START, s.area.gc_finaliser_table_start,
              "gc_finaliser_table_start");
  expect_fact(facts, FACT_AREA_WEAKREF_TABLE_START, s.area.gc_weakref_table_start,
              "gc_weakref_table_start");
  expect_fact(facts, FACT_AREA_COLLECT_TABLE_START, s.area.gc_collect_table_start,
              "gc_collect_table_start");
  expect_fact(facts, FACT_AREA_POOL_START, s.area.gc_pool_start, "gc_pool_start");
  expect_fact(facts, FACT_AREA_POOL_END, s.area.gc_pool_end, "gc_pool_end");
  expect_fact(facts, FACT_AREA_NEXT, s.area.next, "next");
  expect_fact(facts, FACT_VM_LAST_POOL, s.vm_last_pool, "vm.last_pool");
  expect_fact(facts, FACT_VM_DICT_MAIN, s.vm_dict_main, "vm.dict_main");
  expect_fact(facts, FACT_VM_LOADED_MODULES_DICT, s.vm_mp_loaded_modules_dict,
              "vm.mp_loaded_modules_dict");
  expect_fact(facts, FACT_THREAD_STACK_TOP, s.thread_stack_top, "thread.stack_top");
}

TEST_P(ElfTargetProgram, QstrPoolLayoutMatchesOffsetof) {
  auto facts = layout_facts(*tc_, elf_);
  ASSERT_EQ(facts.size(), static_cast<std::size_t>(FACT_COUNT));
  const QstrPoolLayout& p = target_.qstr_pool;
  EXPECT_EQ(p.size, facts[FACT_POOL_SIZE]);
  expect_fact(facts, FACT_POOL_PREV, p.prev, "prev");
  expect_fact(facts, FACT_POOL_TOTAL_PREV_LEN, p.total_prev_len, "total_prev_len");
  expect_fact(facts, FACT_POOL_ALLOC, p.alloc, "alloc");
  expect_fact(facts, FACT_POOL_LEN, p.len, "len");
  expect_fact(facts, FACT_POOL_HASHES, p.hashes, "hashes");
  expect_fact(facts, FACT_POOL_LENGTHS, p.lengths, "lengths");
  expect_fact(facts, FACT_POOL_QSTRS, p.qstrs, "qstrs");
  EXPECT_EQ(p.hash_bytes, facts[FACT_HASH_BYTES]);
  EXPECT_EQ(p.len_bytes, facts[FACT_LEN_BYTES]);
}

TEST_P(ElfTargetProgram, SymbolsMatchNm) {
  auto nm = nm_symbols(*tc_, elf_);
  ASSERT_FALSE(nm.empty());
  std::size_t checked = 0;
  for (const auto& [name, want] : nm) {
    bool found = false;
    for (const Symbol& s : target_.symbols) {
      if (s.name != name || s.address != want.address) continue;
      found = true;
      EXPECT_EQ(s.size, want.size) << name;
      EXPECT_EQ(s.kind, want.kind) << name;
    }
    EXPECT_TRUE(found) << name << " at 0x" << std::hex << want.address;
    ++checked;
  }
  EXPECT_GE(target_.symbols.size(), checked);
  ASSERT_TRUE(target_.mp_state_ctx);
  EXPECT_EQ(*target_.mp_state_ctx, nm_address(nm, "mp_state_ctx"));
  const Symbol* ctx = target_.find_symbol("mp_state_ctx");
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(ctx->section, ".bss");
  EXPECT_EQ(target_.describe(*target_.mp_state_ctx + 4), "mp_state_ctx+4");
}

TEST_P(ElfTargetProgram, RegionsMatchReadelfAndLinkerSymbols) {
  auto loads = readelf_loads(*tc_, elf_);
  ASSERT_FALSE(loads.empty());
  for (const ReadelfSegment& seg : loads) {
    bool found = false;
    for (const MemoryRegion& r : target_.regions) {
      if (r.start == seg.vaddr && r.end == seg.vaddr + seg.memsz &&
          r.kind == (seg.writable ? RegionKind::ram : RegionKind::flash)) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << "segment at 0x" << std::hex << seg.vaddr;
  }
  auto nm = nm_symbols(*tc_, elf_);
  auto has = [&](RegionKind kind, std::uint64_t start, std::uint64_t end) {
    for (const MemoryRegion& r : target_.regions)
      if (r.kind == kind && r.start == start && r.end == end) return true;
    return false;
  };
  if (tc_->arm) {
    // An empty .data (state_old has no initialised variables) is no region.
    const std::uint64_t sdata = nm_address(nm, "_sdata"), edata = nm_address(nm, "_edata");
    EXPECT_EQ(has(RegionKind::data, sdata, edata), sdata < edata);
    EXPECT_TRUE(has(RegionKind::bss, nm_address(nm, "_sbss"), nm_address(nm, "_ebss")));
    EXPECT_TRUE(has(RegionKind::stack, nm_address(nm, "_ebss"), nm_address(nm, "_estack")));
  } else if (nm.count("__bss_start") != 0 && nm.count("_end") != 0) {
    // GNU ld defines these always, lld only when something refers to them.
    EXPECT_TRUE(has(RegionKind::bss, nm_address(nm, "__bss_start"), nm_address(nm, "_end")));
  }
}

TEST_P(ElfTargetProgram, RomQstrsInChainOrder) {
  Expectations e = expected(program_);
  EXPECT_EQ(target_.rom_qstrs, e.qstrs) << target_.provenance.qstrs;
  EXPECT_NE(target_.provenance.qstrs.find("mp_qstr_const_pool"), std::string::npos);
}

TEST_P(ElfTargetProgram, TypeObjectsNamedByTheirQstr) {
  Expectations e = expected(program_);
  auto nm = nm_symbols(*tc_, elf_);
  std::map<std::string, std::string> got;
  for (const TypeObject& t : target_.types) {
    got[t.symbol] = t.name;
    EXPECT_EQ(t.address, nm_address(nm, t.symbol)) << t.symbol;
    EXPECT_EQ(target_.type_at(t.address), &t);
  }
  EXPECT_EQ(got, e.types);
  EXPECT_EQ(got.count("mp_type_fake_counter"), 0u);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const Toolchain& tc : toolchains())
    for (const char* program : {"state_new", "state_split", "state_old"})
      out.emplace_back(tc.name, program);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Programs, ElfTargetProgram, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           return std::get<0>(param_info.param) + "_" +
                                  std::get<1>(param_info.param);
                         });

// Bad inputs: one clear message naming the file, what is missing and what to pass instead.

std::string error_of(const std::string& path, const ElfOptions& options = {}) {
  auto t = read_elf_target(path, options);
  EXPECT_FALSE(t) << path;
  if (t) return "";
  EXPECT_EQ(t.error().source, path);
  return t.error().message();
}

std::string host_elf(const std::string& program, const std::string& extra = "") {
  std::string why;
  Toolchain tc = toolchain("host_gcc");
  if (!extra.empty()) tc.flags = extra;
  std::string elf = build(tc, program, &why, extra);
  if (elf.empty()) ADD_FAILURE() << why;
  return elf;
}

TEST(ElfTargetErrors, NotAnElf) {
  const std::string path = workdir() + "/not_an_elf.txt";
  spit(path, "hello, I am a text file\n");
  std::string message = error_of(path);
  EXPECT_NE(message.find("expected an ELF file (starts with 0x7f 'ELF'), found \"hello, I\""),
            std::string::npos)
      << message;
  spit(path, "");
  EXPECT_NE(error_of(path).find("found an empty file"), std::string::npos);
}

TEST(ElfTargetErrors, MissingFile) {
  std::string message = error_of(workdir() + "/no_such_file.elf");
  EXPECT_NE(message.find("cannot open"), std::string::npos) << message;
}

TEST(ElfTargetErrors, Truncated) {
  if (!have("gcc")) GTEST_SKIP() << "gcc is not installed";
  std::string bytes = slurp(host_elf("state_new"));
  ASSERT_GT(bytes.size(), 4096u);
  for (std::size_t size :
       {std::size_t{20}, std::size_t{40}, std::size_t{200}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string path = workdir() + "/truncated_" + std::to_string(size);
    spit(path, bytes.substr(0, size));
    std::string message = error_of(path);
    EXPECT_NE(message.find("truncated ELF"), std::string::npos) << size << ": " << message;
  }
}

TEST(ElfTargetErrors, Stripped) {
  if (!have("gcc") || !have("strip")) GTEST_SKIP() << "gcc or strip is not installed";
  const std::string path = workdir() + "/stripped";
  int status = 0;
  run("strip -o '" + path + "' '" + host_elf("state_new") + "'", &status);
  ASSERT_EQ(status, 0);
  std::string message = error_of(path);
  EXPECT_NE(message.find("no symbol table (.symtab)"), std::string::npos) << message;
  EXPECT_NE(message.find("--map"), std::string::npos) << message;
  EXPECT_NE(message.find("--nm"), std::string::npos) << message;
}

TEST(ElfTargetErrors, AnotherProgram) {
  if (!have("gcc")) GTEST_SKIP() << "gcc is not installed";
  std::string message = error_of(host_elf("other_program"));
  EXPECT_NE(message.find("this ELF has no mp_state_ctx symbol: not a MicroPython firmware?"),
            std::string::npos)
      << message;
}

TEST(ElfTargetErrors, SystemProgram) {
  if (!fs::exists("/bin/true")) GTEST_SKIP() << "no /bin/true";
  std::string message = error_of("/bin/true");
  // Debian's /bin/true is stripped; an unstripped one has no mp_state_ctx.
  EXPECT_TRUE(message.find("no symbol table") != std::string::npos ||
              message.find("no mp_state_ctx") != std::string::npos)
      << message;
}

TEST(ElfTargetErrors, NoDebugInfo) {
  if (!have("gcc")) GTEST_SKIP() << "gcc is not installed";
  const std::string elf = host_elf("state_new", "-g0 -O0");
  std::string message = error_of(elf);
  EXPECT_NE(message.find("no DWARF debug info"), std::string::npos) << message;
  EXPECT_NE(message.find("--map"), std::string::npos) << message;
  // The caller that falls back to heuristics still gets what the ELF alone tells.
  ElfOptions options;
  options.require_dwarf = false;
  auto t = read_elf_target(elf, options);
  ASSERT_TRUE(t) << t.error().message();
  auto nm = nm_symbols(toolchain("host_gcc"), elf);
  ASSERT_TRUE(t->mp_state_ctx);
  EXPECT_EQ(*t->mp_state_ctx, nm_address(nm, "mp_state_ctx"));
  EXPECT_EQ(t->state.size, nm.find("mp_state_ctx")->second.size);
  EXPECT_FALSE(t->state.mem_area);
  EXPECT_TRUE(t->rom_qstrs.empty());
  EXPECT_NE(t->provenance.layout.find("no DWARF"), std::string::npos);
}

TEST(ElfTargetOptions, BlockSizeAndMemoryInput) {
  if (!have("gcc")) GTEST_SKIP() << "gcc is not installed";
  const std::string elf = host_elf("state_new");
  ElfOptions options;
  options.block_size = 32;
  auto t = read_elf_target(elf, options);
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->block_size, 32u);
  EXPECT_NE(t->provenance.layout.find("as given"), std::string::npos);
  auto m = read_elf_target_from_memory(slurp(elf), "firmware.elf");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->rom_qstrs, t->rom_qstrs);
  EXPECT_EQ(m->symbols.size(), t->symbols.size());
  EXPECT_EQ(m->state.area.gc_pool_start, t->state.area.gc_pool_start);
  auto bad = read_elf_target_from_memory(
      "\x7f"
      "EL",
      "bytes.bin");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().source, "bytes.bin");
}

}  // namespace
}  // namespace mpheap::target
