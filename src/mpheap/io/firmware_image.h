// Firmware images as users download them (Intel HEX, UF2, raw .bin, an ELF read by its program
// headers, an ELF inside a container) read into a MemoryImage: the bytes of flash placed at
// their addresses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mpheap/io/memory_image.h"
#include "mpheap/util/error.h"

namespace mpheap::io {

enum class ImageFormat { intel_hex, uf2, raw, elf, wasm };
const char* to_string(ImageFormat format);

// Intel HEX: records 00 (data), 01 (end of file), 02 (extended segment address), 03 and 05
// (start addresses, ignored), 04 (extended linear address). Every checksum is verified; errors
// name the line. Adjacent records are joined into one range; a later record overwrites an
// earlier one at the same address.
Expected<MemoryImage> parse_intel_hex(std::string_view text, const std::string& name);

// UF2: 512-byte blocks, both start magics and the end magic checked, payload <= 476 bytes.
// Blocks flagged "not main flash" are skipped; the family id is not looked at.
Expected<MemoryImage> parse_uf2(std::string_view bytes, const std::string& name);

// The whole of `bytes` placed at `base`.
MemoryImage raw_image(std::string_view bytes, std::uint64_t base, const std::string& name);

// Which format `bytes` is in: UF2 by its first magic, a WebAssembly module by "\0asm", HEX by
// a leading ':' (after blanks), ELF by its identification, else raw.
ImageFormat detect_image_format(std::string_view bytes);

// Reads a file in any of the formats. A raw image needs `base`, unless it is a container that
// holds an ELF (found at a 4-byte aligned offset with program headers that read): then the ELF
// is the image, and `file_offset` and `note` say where it was found.
struct LoadedImage {
  MemoryImage image;
  ImageFormat format = ImageFormat::raw;
  std::uint64_t file_offset = 0;  // where the image's own bytes start in the file
  std::uint16_t elf_machine = 0;  // e_machine of an ELF, 0 otherwise
  std::uint32_t word_size = 0;    // from an ELF's class, 0 when the format does not say
  bool little_endian = true;
  std::string note;  // how the image was found, for a reader of the evidence ("" = plainly)
};
Expected<LoadedImage> load_firmware_image(const std::string& path,
                                          std::optional<std::uint64_t> base);
Expected<LoadedImage> read_firmware_image(std::string_view bytes, const std::string& name,
                                          std::optional<std::uint64_t> base);

}  // namespace mpheap::io
