// Writing and reading target.json (addresses as "0x..." strings: JSON numbers lose 64-bit values).
#include "mpheap/target/target_json.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

namespace mpheap::target {
namespace {

using nlohmann::ordered_json;

std::string hex(std::uint64_t v) {
  return fmt::format("0x{:x}", v);
}

struct FieldName {
  const char* name;
  Offset StateLayout::*state = nullptr;
  Offset AreaLayout::*area = nullptr;
  Offset QstrPoolLayout::*pool = nullptr;
};

const FieldName kStateFields[] = {
    {"mem.area", &StateLayout::mem_area},
    {"vm.last_pool", &StateLayout::vm_last_pool},
    {"vm.dict_main", &StateLayout::vm_dict_main},
    {"vm.mp_loaded_modules_dict", &StateLayout::vm_mp_loaded_modules_dict},
    {"thread.stack_top", &StateLayout::thread_stack_top},
    {"thread.pystack_start", &StateLayout::thread_pystack_start},
    {"thread.pystack_cur", &StateLayout::thread_pystack_cur},
};
const FieldName kAreaFields[] = {
    {"gc_alloc_table_start", nullptr, &AreaLayout::gc_alloc_table_start},
    {"gc_alloc_table_byte_len", nullptr, &AreaLayout::gc_alloc_table_byte_len},
    {"gc_finaliser_table_start", nullptr, &AreaLayout::gc_finaliser_table_start},
    {"gc_weakref_table_start", nullptr, &AreaLayout::gc_weakref_table_start},
    {"gc_collect_table_start", nullptr, &AreaLayout::gc_collect_table_start},
    {"gc_pool_start", nullptr, &AreaLayout::gc_pool_start},
    {"gc_pool_end", nullptr, &AreaLayout::gc_pool_end},
    {"next", nullptr, &AreaLayout::next},
};
const FieldName kPoolFields[] = {
    {"prev", nullptr, nullptr, &QstrPoolLayout::prev},
    {"total_prev_len", nullptr, nullptr, &QstrPoolLayout::total_prev_len},
    {"alloc", nullptr, nullptr, &QstrPoolLayout::alloc},
    {"len", nullptr, nullptr, &QstrPoolLayout::len},
    {"hashes", nullptr, nullptr, &QstrPoolLayout::hashes},
    {"lengths", nullptr, nullptr, &QstrPoolLayout::lengths},
    {"qstrs", nullptr, nullptr, &QstrPoolLayout::qstrs},
};

struct JsonError {
  std::string what;
};

std::uint64_t parse_address(const ordered_json& j, const std::string& path) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (!j.is_string())
    throw JsonError{
        fmt::format("{}: expected an address string \"0x...\", found {}", path, j.dump())};
  std::string s = j.get<std::string>();
  std::string_view v = s;
  int base = 10;
  if (v.starts_with("0x")) {
    v.remove_prefix(2);
    base = 16;
  }
  std::uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size())
    throw JsonError{fmt::format("{}: expected an address \"0x...\", found \"{}\"", path, s)};
  return out;
}

std::uint64_t get_uint(const ordered_json& obj, const char* key, const std::string& path) {
  if (!obj.contains(key)) throw JsonError{fmt::format("{}: missing \"{}\"", path, key)};
  const auto& j = obj[key];
  if (!j.is_number_unsigned())
    throw JsonError{
        fmt::format("{}.{}: expected a non-negative integer, found {}", path, key, j.dump())};
  return j.get<std::uint64_t>();
}

std::string get_string(const ordered_json& obj, const char* key, const std::string& path,
                       bool required = false) {
  if (!obj.contains(key)) {
    if (required) throw JsonError{fmt::format("{}: missing \"{}\"", path, key)};
    return {};
  }
  if (!obj[key].is_string())
    throw JsonError{fmt::format("{}.{}: expected a string, found {}", path, key, obj[key].dump())};
  return obj[key].get<std::string>();
}

RegionKind region_kind(const std::string& s, const std::string& path) {
  for (RegionKind k : {RegionKind::flash, RegionKind::ram, RegionKind::data, RegionKind::bss,
                       RegionKind::stack, RegionKind::heap, RegionKind::other})
    if (s == to_string(k)) return k;
  throw JsonError{fmt::format("{}: unknown region kind \"{}\"", path, s)};
}

}  // namespace

std::string to_json(const Target& t) {
  ordered_json j;
  j["format"] = "mpheap-target";
  j["version"] = kTargetFormatVersion;
  j["machine"] = t.machine;
  j["word_size"] = t.word_size;
  j["byte_order"] = t.little_endian ? "little" : "big";
  j["block_size"] = t.block_size;
  j["blockmap_offset_digits"] = t.blockmap_offset_digits;
  if (t.gc_split_heap_auto) j["gc_split_heap_auto"] = true;
  if (t.gc_max_new_split) j["gc_max_new_split"] = *t.gc_max_new_split;
  if (t.gc_collect_deferred) j["gc_collect_deferred"] = true;
  if (t.values_known)
    j["values"] = {{"repr", std::string(1, t.values.repr)},
                   {"immediate_objs", t.values.immediate_objs}};
  j["provenance"] = {{"symbols", t.provenance.symbols},
                     {"layout", t.provenance.layout},
                     {"qstrs", t.provenance.qstrs}};
  if (!t.firmware.empty()) {
    const FirmwareFacts& f = t.firmware;
    ordered_json fw = ordered_json::object();
    fw["micropython_version"] =
        f.micropython_version.empty() ? ordered_json() : ordered_json(f.micropython_version);
    fw["version_source"] = f.version_source;
    if (!f.banner.empty()) fw["banner"] = f.banner;
    if (f.mpy) fw["mpy"] = hex(*f.mpy);
    if (f.load_address) fw["load_address"] = hex(*f.load_address);
    fw["load_address_source"] = f.load_address_source;
    fw["cpu"] = f.cpu;
    j["firmware"] = fw;
  }
  ordered_json ctx = ordered_json::object();
  if (t.mp_state_ctx) ctx["address"] = hex(*t.mp_state_ctx);
  ctx["size"] = t.state.size;
  ordered_json sf = ordered_json::object();
  for (const FieldName& f : kStateFields)
    if (t.state.*(f.state)) sf[f.name] = *(t.state.*(f.state));
  ctx["fields"] = sf;
  j["mp_state_ctx"] = ctx;
  ordered_json af = ordered_json::object();
  for (const FieldName& f : kAreaFields)
    if (t.state.area.*(f.area)) af[f.name] = *(t.state.area.*(f.area));
  j["heap_area"] = {{"size", t.state.area.size}, {"fields", af}};
  ordered_json pf = ordered_json::object();
  for (const FieldName& f : kPoolFields)
    if (t.qstr_pool.*(f.pool)) pf[f.name] = *(t.qstr_pool.*(f.pool));
  j["qstr_pool"] = {{"size", t.qstr_pool.size},
                    {"hash_bytes", t.qstr_pool.hash_bytes},
                    {"len_bytes", t.qstr_pool.len_bytes},
                    {"fields", pf}};
  ordered_json regions = ordered_json::array();
  for (const MemoryRegion& r : t.regions)
    regions.push_back({{"name", r.name},
                       {"kind", to_string(r.kind)},
                       {"start", hex(r.start)},
                       {"end", hex(r.end)}});
  j["regions"] = regions;
  ordered_json types = ordered_json::array();
  for (const TypeObject& ty : t.types)
    types.push_back({{"address", hex(ty.address)}, {"symbol", ty.symbol}, {"name", ty.name}});
  j["types"] = types;
  j["rom_qstrs"] = t.rom_qstrs;
  ordered_json symbols = ordered_json::array();
  for (const Symbol& s : t.symbols) {
    ordered_json o{{"name", s.name},
                   {"address", hex(s.address)},
                   {"size", s.size},
                   {"kind", std::string(1, s.kind)}};
    if (!s.section.empty()) o["section"] = s.section;
    symbols.push_back(std::move(o));
  }
  j["symbols"] = symbols;
  return j.dump(1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

Expected<Target> target_from_json(std::string_view text, const std::string& name) {
  ordered_json j = ordered_json::parse(text, nullptr, false);
  if (j.is_discarded())
    return Error{name, 0, 0, "expected a JSON target description, found text that is not JSON"};
  try {
    if (!j.is_object() || get_string(j, "format", "$") != "mpheap-target")
      throw JsonError{
          "$: expected \"format\": \"mpheap-target\" (a file written by `mpheap target -o`)"};
    std::uint64_t version = get_uint(j, "version", "$");
    if (version != kTargetFormatVersion)
      throw JsonError{
          fmt::format("$.version: expected {}, found {}", kTargetFormatVersion, version)};
    Target t;
    t.machine = get_string(j, "machine", "$");
    t.word_size = static_cast<std::uint32_t>(get_uint(j, "word_size", "$"));
    if (t.word_size != 4 && t.word_size != 8 && t.word_size != 2)
      throw JsonError{fmt::format("$.word_size: expected 2, 4 or 8, found {}", t.word_size)};
    std::string order = get_string(j, "byte_order", "$", true);
    if (order != "little" && order != "big")
      throw JsonError{"$.byte_order: expected \"little\" or \"big\""};
    t.little_endian = order == "little";
    t.block_size = static_cast<std::uint32_t>(get_uint(j, "block_size", "$"));
    if (t.block_size == 0 || t.block_size > 4096) throw JsonError{"$.block_size: expected 1..4096"};
    if (j.contains("gc_split_heap_auto")) {
      if (!j["gc_split_heap_auto"].is_boolean())
        throw JsonError{"$.gc_split_heap_auto: expected true or false"};
      t.gc_split_heap_auto = j["gc_split_heap_auto"].get<bool>();
    }
    if (j.contains("gc_collect_deferred")) {
      if (!j["gc_collect_deferred"].is_boolean())
        throw JsonError{"$.gc_collect_deferred: expected true or false"};
      t.gc_collect_deferred = j["gc_collect_deferred"].get<bool>();
    }
    if (j.contains("gc_max_new_split")) t.gc_max_new_split = get_uint(j, "gc_max_new_split", "$");
    if (j.contains("blockmap_offset_digits")) {
      t.blockmap_offset_digits =
          static_cast<std::uint32_t>(get_uint(j, "blockmap_offset_digits", "$"));
      if (t.blockmap_offset_digits != 5 && t.blockmap_offset_digits != 8)
        throw JsonError{"$.blockmap_offset_digits: expected 5 or 8"};
    }
    if (j.contains("values")) {
      const ordered_json& v = j["values"];
      if (!v.is_object()) throw JsonError{"$.values: expected an object"};
      std::string repr = get_string(v, "repr", "$.values", true);
      if (repr != "A" && repr != "B" && repr != "C")
        throw JsonError{
            fmt::format("$.values.repr: expected \"A\", \"B\" or \"C\", found \"{}\"", repr)};
      if (!v.contains("immediate_objs") || !v["immediate_objs"].is_boolean())
        throw JsonError{"$.values.immediate_objs: expected true or false"};
      t.values.repr = repr[0];
      t.values.immediate_objs = v["immediate_objs"].get<bool>();
      t.values_known = true;
    }
    if (j.contains("provenance") && j["provenance"].is_object()) {
      t.provenance.symbols = get_string(j["provenance"], "symbols", "$.provenance");
      t.provenance.layout = get_string(j["provenance"], "layout", "$.provenance");
      t.provenance.qstrs = get_string(j["provenance"], "qstrs", "$.provenance");
    }
    if (j.contains("firmware")) {
      const ordered_json& fw = j["firmware"];
      if (!fw.is_object()) throw JsonError{"$.firmware: expected an object"};
      FirmwareFacts& f = t.firmware;
      if (fw.contains("micropython_version") && !fw["micropython_version"].is_null())
        f.micropython_version = get_string(fw, "micropython_version", "$.firmware");
      f.version_source = get_string(fw, "version_source", "$.firmware");
      f.banner = get_string(fw, "banner", "$.firmware");
      if (fw.contains("mpy")) f.mpy = parse_address(fw["mpy"], "$.firmware.mpy");
      if (fw.contains("load_address"))
        f.load_address = parse_address(fw["load_address"], "$.firmware.load_address");
      f.load_address_source = get_string(fw, "load_address_source", "$.firmware");
      f.cpu = get_string(fw, "cpu", "$.firmware");
    }
    auto object = [&](const ordered_json& parent, const char* key,
                      const std::string& path) -> const ordered_json& {
      if (!parent.contains(key) || !parent[key].is_object())
        throw JsonError{fmt::format("{}: expected an object \"{}\"", path, key)};
      return parent[key];
    };
    const auto& ctx = object(j, "mp_state_ctx", "$");
    if (ctx.contains("address"))
      t.mp_state_ctx = parse_address(ctx["address"], "$.mp_state_ctx.address");
    t.state.size = get_uint(ctx, "size", "$.mp_state_ctx");
    const auto& sf = object(ctx, "fields", "$.mp_state_ctx");
    for (const FieldName& f : kStateFields)
      if (sf.contains(f.name)) t.state.*(f.state) = get_uint(sf, f.name, "$.mp_state_ctx.fields");
    const auto& area = object(j, "heap_area", "$");
    t.state.area.size = get_uint(area, "size", "$.heap_area");
    const auto& af = object(area, "fields", "$.heap_area");
    for (const FieldName& f : kAreaFields)
      if (af.contains(f.name)) t.state.area.*(f.area) = get_uint(af, f.name, "$.heap_area.fields");
    const auto& pool = object(j, "qstr_pool", "$");
    t.qstr_pool.size = get_uint(pool, "size", "$.qstr_pool");
    t.qstr_pool.hash_bytes =
        static_cast<std::uint32_t>(get_uint(pool, "hash_bytes", "$.qstr_pool"));
    t.qstr_pool.len_bytes = static_cast<std::uint32_t>(get_uint(pool, "len_bytes", "$.qstr_pool"));
    const auto& pf = object(pool, "fields", "$.qstr_pool");
    for (const FieldName& f : kPoolFields)
      if (pf.contains(f.name)) t.qstr_pool.*(f.pool) = get_uint(pf, f.name, "$.qstr_pool.fields");
    auto array = [&](const char* key) -> const ordered_json& {
      if (!j.contains(key) || !j[key].is_array())
        throw JsonError{fmt::format("$: expected an array \"{}\"", key)};
      return j[key];
    };
    std::size_t i = 0;
    for (const auto& r : array("regions")) {
      std::string path = fmt::format("$.regions[{}]", i++);
      t.regions.push_back(
          MemoryRegion{get_string(r, "name", path, true),
                       region_kind(get_string(r, "kind", path, true), path + ".kind"),
                       parse_address(r.value("start", ordered_json()), path + ".start"),
                       parse_address(r.value("end", ordered_json()), path + ".end")});
    }
    i = 0;
    for (const auto& ty : array("types")) {
      std::string path = fmt::format("$.types[{}]", i++);
      t.types.push_back(
          TypeObject{parse_address(ty.value("address", ordered_json()), path + ".address"),
                     get_string(ty, "symbol", path), get_string(ty, "name", path, true)});
    }
    i = 0;
    for (const auto& q : array("rom_qstrs")) {
      if (!q.is_string()) throw JsonError{fmt::format("$.rom_qstrs[{}]: expected a string", i)};
      t.rom_qstrs.push_back(q.get<std::string>());
      ++i;
    }
    i = 0;
    for (const auto& s : array("symbols")) {
      std::string path = fmt::format("$.symbols[{}]", i++);
      std::string kind = get_string(s, "kind", path);
      t.symbols.push_back(
          Symbol{get_string(s, "name", path, true),
                 parse_address(s.value("address", ordered_json()), path + ".address"),
                 s.contains("size") ? get_uint(s, "size", path) : 0,
                 kind.size() == 1 ? kind[0] : '?', get_string(s, "section", path)});
    }
    t.finalize();
    return t;
  } catch (const JsonError& e) {
    return Error{name, 0, 0, e.what};
  } catch (const nlohmann::json::exception& e) {
    return Error{name, 0, 0, fmt::format("malformed target description: {}", e.what())};
  }
}

}  // namespace mpheap::target
