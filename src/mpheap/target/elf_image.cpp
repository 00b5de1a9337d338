// ElfImage: header checks, sections, segments, symbols and memory reads of a firmware ELF.
#include "mpheap/target/elf_image.h"

#include <elf.h>
#include <fmt/format.h>
#include <gelf.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "mpheap/io/elf_segments.h"

namespace mpheap::target::elf {
namespace {

std::uint64_t get_uint(std::string_view bytes, std::size_t offset, std::size_t size, bool le) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < size; ++i) {
    auto b = static_cast<unsigned char>(bytes[offset + (le ? size - 1 - i : i)]);
    v = (v << 8) | b;
  }
  return v;
}

// "an empty file" or the first bytes as text and hex, for the not-an-ELF message.
std::string describe_start(std::string_view bytes) {
  if (bytes.empty()) return "an empty file";
  std::string_view head = bytes.substr(0, 8);
  std::string text;
  std::string hex;
  for (char c : head) {
    auto u = static_cast<unsigned char>(c);
    text += (u >= 0x20 && u < 0x7f) ? c : '.';
    hex += fmt::format("{}{:02x}", hex.empty() ? "" : " ", u);
  }
  return fmt::format("\"{}\" ({})", text, hex);
}

// True when [offset, offset + count * entry) lies inside a file of `size` bytes.
bool table_fits(std::uint64_t offset, std::uint64_t count, std::uint64_t entry,
                std::uint64_t size) {
  if (offset > size) return false;
  if (entry != 0 && count > (size - offset) / entry) return false;
  return true;
}

char kind_letter(const GElf_Sym& sym, unsigned type, unsigned binding, const ElfSection* section) {
  const bool global = binding != STB_LOCAL;
  auto cased = [&](char lower) { return global ? static_cast<char>(lower - 'a' + 'A') : lower; };
  if (sym.st_shndx == SHN_COMMON) return 'C';
  if (type == STT_GNU_IFUNC) return 'i';
  if (binding == STB_WEAK) return type == STT_OBJECT ? 'V' : 'W';
  if (binding == STB_GNU_UNIQUE) return 'u';
  if (sym.st_shndx == SHN_ABS || section == nullptr) return cased('a');
  if ((section->flags & SHF_EXECINSTR) != 0) return cased('t');
  if (section->name.starts_with(".sbss")) return cased('b');
  if (section->name.starts_with(".sdata")) return cased('g');
  if (section->type == SHT_NOBITS) return cased('b');
  if ((section->flags & SHF_ALLOC) == 0) {
    return section->name.starts_with(".debug") ? 'N' : 'n';
  }
  return cased((section->flags & SHF_WRITE) != 0 ? 'd' : 'r');
}

}  // namespace

ElfImage::~ElfImage() {
  if (elf_ != nullptr) elf_end(elf_);
}

Error ElfImage::error(std::uint64_t offset, std::string what) const {
  return Error{name_, 0, offset, std::move(what)};
}

Expected<std::unique_ptr<ElfImage>> ElfImage::open(std::string_view bytes, std::string name) {
  std::unique_ptr<ElfImage> image(new ElfImage());
  image->name_ = std::move(name);
  const std::uint64_t size = bytes.size();
  if (size < 4 || std::memcmp(bytes.data(),
                              "\x7f"
                              "ELF",
                              4) != 0) {
    // A container with an ELF inside (a boot loader, then the firmware): say where, and that
    // --firmware reads it.
    const auto inside = io::find_embedded_elf(bytes);
    return image->error(
        0, fmt::format("expected an ELF file (starts with 0x7f 'ELF'), found {}{}",
                       describe_start(bytes),
                       inside ? fmt::format("; an ELF starts at file offset 0x{:x} inside this "
                                            "file (a container): read it with --firmware FILE",
                                            *inside)
                              : std::string()));
  }
  if (size < EI_NIDENT) {
    return image->error(size, fmt::format("truncated ELF: only {} bytes", size));
  }
  const auto elf_class = static_cast<unsigned char>(bytes[EI_CLASS]);
  const auto elf_data = static_cast<unsigned char>(bytes[EI_DATA]);
  if (elf_class != ELFCLASS32 && elf_class != ELFCLASS64) {
    return image->error(EI_CLASS, fmt::format("unknown ELF class {} (expected 1 for 32-bit or 2 "
                                              "for 64-bit)",
                                              elf_class));
  }
  if (elf_data != ELFDATA2LSB && elf_data != ELFDATA2MSB) {
    return image->error(EI_DATA,
                        fmt::format("unknown ELF byte order {} (expected 1 or 2)", elf_data));
  }
  const bool is64 = elf_class == ELFCLASS64;
  const bool le = elf_data == ELFDATA2LSB;
  image->word_size_ = is64 ? 8 : 4;
  image->little_endian_ = le;
  const std::uint64_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
  if (size < ehsize) {
    return image->error(size, fmt::format("truncated ELF: the file is {} bytes, shorter than "
                                          "the {}-byte ELF header",
                                          size, ehsize));
  }
  image->machine_ = static_cast<std::uint16_t>(get_uint(bytes, 18, 2, le));
  const std::size_t w = is64 ? 8 : 4;
  const std::uint64_t phoff = get_uint(bytes, 24 + w, w, le);
  const std::uint64_t shoff = get_uint(bytes, 24 + 2 * w, w, le);
  const std::size_t rest = 24 + 3 * w + 4;  // e_flags, then e_ehsize
  const std::uint64_t phentsize = get_uint(bytes, rest + 2, 2, le);
  const std::uint64_t phnum = get_uint(bytes, rest + 4, 2, le);
  const std::uint64_t shentsize = get_uint(bytes, rest + 6, 2, le);
  const std::uint64_t shnum = get_uint(bytes, rest + 8, 2, le);
  if (phnum != 0 && !table_fits(phoff, phnum, phentsize, size)) {
    return image->error(phoff, fmt::format("truncated ELF: the program header table ({} entries "
                                           "at offset {}) ends past the end of the file ({} "
                                           "bytes)",
                                           phnum, phoff, size));
  }
  if (shoff != 0 && !table_fits(shoff, shnum == 0 ? 1 : shnum, shentsize, size)) {
    return image->error(shoff, fmt::format("truncated ELF: the section header table ({} entries "
                                           "at offset {}) ends past the end of the file ({} "
                                           "bytes)",
                                           shnum, shoff, size));
  }

  image->original_.assign(bytes);
  image->libelf_copy_.assign(bytes);
  elf_version(EV_CURRENT);
  image->elf_ = elf_memory(image->libelf_copy_.data(), image->libelf_copy_.size());
  if (image->elf_ == nullptr || elf_kind(image->elf_) != ELF_K_ELF) {
    return image->error(0, fmt::format("libelf cannot read this ELF: {}", elf_errmsg(-1)));
  }

  std::size_t section_count = 0;
  std::size_t names_index = 0;
  if (elf_getshdrnum(image->elf_, &section_count) != 0 ||
      elf_getshdrstrndx(image->elf_, &names_index) != 0) {
    return image->error(shoff, fmt::format("unreadable section headers: {}", elf_errmsg(-1)));
  }
  image->sections_.resize(section_count);
  for (Elf_Scn* scn = elf_nextscn(image->elf_, nullptr); scn != nullptr;
       scn = elf_nextscn(image->elf_, scn)) {
    GElf_Shdr shdr;
    const std::size_t index = elf_ndxscn(scn);
    if (gelf_getshdr(scn, &shdr) == nullptr || index >= section_count) continue;
    ElfSection& s = image->sections_[index];
    const char* section_name = elf_strptr(image->elf_, names_index, shdr.sh_name);
    s.name = section_name != nullptr ? section_name : "";
    s.address = shdr.sh_addr;
    s.offset = shdr.sh_offset;
    s.size = shdr.sh_size;
    s.type = shdr.sh_type;
    s.flags = shdr.sh_flags;
    if (s.type != SHT_NOBITS && s.type != SHT_NULL && !table_fits(s.offset, 1, s.size, size)) {
      return image->error(s.offset, fmt::format("truncated ELF: section {} ({} bytes at offset "
                                                "{}) ends past the end of the file ({} bytes)",
                                                s.name, s.size, s.offset, size));
    }
    if (s.type == SHT_SYMTAB && image->symtab_ == nullptr) image->symtab_ = scn;
  }

  std::size_t segment_count = 0;
  if (elf_getphdrnum(image->elf_, &segment_count) != 0) segment_count = 0;
  for (std::size_t i = 0; i < segment_count; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(image->elf_, static_cast<int>(i), &phdr) == nullptr) continue;
    if (phdr.p_type != PT_LOAD) continue;
    if (!table_fits(phdr.p_offset, 1, phdr.p_filesz, size)) {
      return image->error(phdr.p_offset, fmt::format("truncated ELF: loadable segment {} ({} "
                                                     "bytes at offset {}) ends past the end of "
                                                     "the file ({} bytes)",
                                                     i, phdr.p_filesz, phdr.p_offset, size));
    }
    image->segments_.push_back(
        ElfSegment{phdr.p_vaddr, phdr.p_offset, phdr.p_filesz, phdr.p_memsz, phdr.p_flags});
  }
  image->read_relative_relocations();
  return image;
}

void ElfImage::read_relative_relocations() {
  unsigned relative = 0;
  switch (machine_) {
    case EM_X86_64:
      relative = R_X86_64_RELATIVE;
      break;
    case EM_AARCH64:
      relative = R_AARCH64_RELATIVE;
      break;
    case EM_RISCV:
      relative = R_RISCV_RELATIVE;
      break;
    case EM_386:
      relative = R_386_RELATIVE;
      break;
    case EM_ARM:
      relative = R_ARM_RELATIVE;
      break;
    default:
      return;
  }
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn != nullptr; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_RELA ||
        (shdr.sh_flags & SHF_ALLOC) == 0) {
      continue;
    }
    Elf_Data* data = elf_getdata(scn, nullptr);
    const std::size_t entry = gelf_fsize(elf_, ELF_T_RELA, 1, EV_CURRENT);
    if (data == nullptr || entry == 0) continue;
    for (std::size_t i = 0; i < data->d_size / entry; ++i) {
      GElf_Rela rela;
      if (gelf_getrela(data, static_cast<int>(i), &rela) == nullptr) break;
      if (GELF_R_TYPE(rela.r_info) == relative) {
        relocated_.emplace_back(rela.r_offset, static_cast<std::uint64_t>(rela.r_addend));
      }
    }
  }
  std::sort(relocated_.begin(), relocated_.end());
}

std::string ElfImage::machine() const {
  switch (machine_) {
    case EM_ARM:
      return "ARM";
    case EM_X86_64:
      return "x86-64";
    case EM_386:
      return "x86";
    case EM_XTENSA:
      return "Xtensa";
    case EM_RISCV:
      return "RISC-V";
    case EM_AARCH64:
      return "AArch64";
    case EM_MIPS:
      return "MIPS";
    case EM_PPC:
      return "PowerPC";
    default:
      return "";
  }
}

bool ElfImage::has_section(std::string_view name) const {
  for (const ElfSection& s : sections_)
    if (s.name == name) return true;
  return false;
}

Expected<std::vector<ElfSymbol>> ElfImage::symbols() const {
  std::vector<ElfSymbol> out;
  if (symtab_ == nullptr) return out;
  GElf_Shdr shdr;
  Elf_Data* data = elf_getdata(symtab_, nullptr);
  if (gelf_getshdr(symtab_, &shdr) == nullptr || data == nullptr) {
    return error(0, fmt::format("unreadable symbol table: {}", elf_errmsg(-1)));
  }
  // Section indices past SHN_LORESERVE live in an SHT_SYMTAB_SHNDX section.
  Elf_Data* xndx = nullptr;
  const std::size_t symtab_index = elf_ndxscn(symtab_);
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn != nullptr; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr x;
    if (gelf_getshdr(scn, &x) != nullptr && x.sh_type == SHT_SYMTAB_SHNDX &&
        x.sh_link == symtab_index) {
      xndx = elf_getdata(scn, nullptr);
    }
  }
  const std::size_t entry = gelf_fsize(elf_, ELF_T_SYM, 1, EV_CURRENT);
  const std::size_t count = entry == 0 ? 0 : data->d_size / entry;
  const bool arm = machine_ == EM_ARM;
  const bool mapping_symbols = arm || machine_ == EM_AARCH64 || machine_ == EM_RISCV;
  out.reserve(count);
  for (std::size_t i = 1; i < count; ++i) {
    GElf_Sym sym;
    Elf32_Word xindex = 0;
    if (gelf_getsymshndx(data, xndx, static_cast<int>(i), &sym, &xindex) == nullptr) continue;
    const unsigned type = GELF_ST_TYPE(sym.st_info);
    const unsigned binding = GELF_ST_BIND(sym.st_info);
    if (type == STT_SECTION || type == STT_FILE || sym.st_shndx == SHN_UNDEF) continue;
    const char* raw_name = elf_strptr(elf_, shdr.sh_link, sym.st_name);
    if (raw_name == nullptr || *raw_name == '\0') continue;
    if (mapping_symbols && raw_name[0] == '$') continue;
    std::size_t section_index = std::numeric_limits<std::size_t>::max();
    if (sym.st_shndx == SHN_XINDEX) {
      section_index = xindex;
    } else if (sym.st_shndx < SHN_LORESERVE) {
      section_index = sym.st_shndx;
    }
    const ElfSection* section =
        section_index < sections_.size() ? &sections_[section_index] : nullptr;
    if (section == nullptr) section_index = std::numeric_limits<std::size_t>::max();
    ElfSymbol s;
    s.symbol.name = raw_name;
    s.symbol.address = sym.st_value;
    if (arm && (type == STT_FUNC || type == STT_GNU_IFUNC)) s.symbol.address &= ~1ULL;
    s.symbol.size = sym.st_size;
    s.symbol.kind = kind_letter(sym, type, binding, section);
    if (section != nullptr) s.symbol.section = section->name;
    s.type = type;
    s.binding = binding;
    s.section_index = section_index;
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<std::string_view> ElfImage::bytes_at(std::uint64_t address,
                                                   std::uint64_t size) const {
  return bytes_in(address, size, false);
}

std::optional<std::string_view> ElfImage::read_only_bytes_at(std::uint64_t address,
                                                             std::uint64_t size) const {
  return bytes_in(address, size, true);
}

std::optional<std::string_view> ElfImage::bytes_in(std::uint64_t address, std::uint64_t size,
                                                   bool read_only) const {
  auto inside = [&](std::uint64_t start, std::uint64_t length) {
    return address >= start && address - start <= length && size <= length - (address - start);
  };
  std::string_view file(original_);
  if (!segments_.empty()) {
    for (const ElfSegment& s : segments_) {
      if (read_only && (s.flags & PF_W) != 0) continue;
      if (s.filesz != 0 && inside(s.vaddr, s.filesz))
        return file.substr(s.offset + (address - s.vaddr), size);
    }
    return std::nullopt;
  }
  for (const ElfSection& s : sections_) {
    if (read_only && (s.flags & SHF_WRITE) != 0) continue;
    if ((s.flags & SHF_ALLOC) != 0 && s.type != SHT_NOBITS && s.size != 0 &&
        inside(s.address, s.size))
      return file.substr(s.offset + (address - s.address), size);
  }
  return std::nullopt;
}

std::uint64_t ElfImage::decode(std::string_view bytes) const {
  return get_uint(bytes, 0, bytes.size() > 8 ? 8 : bytes.size(), little_endian_);
}

std::optional<std::uint64_t> ElfImage::read_uint(std::uint64_t address, std::uint32_t size) const {
  if (size == 0 || size > 8) return std::nullopt;
  if (size == word_size_ && !relocated_.empty()) {
    auto it = std::lower_bound(relocated_.begin(), relocated_.end(),
                               std::pair<std::uint64_t, std::uint64_t>{address, 0});
    if (it != relocated_.end() && it->first == address) return it->second;
  }
  auto bytes = bytes_at(address, size);
  if (!bytes) return std::nullopt;
  return decode(*bytes);
}

}  // namespace mpheap::target::elf
