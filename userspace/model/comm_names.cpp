#include "model/comm_names.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace synfin::model {

namespace {
constexpr std::size_t kBlockSize = 256;
constexpr std::size_t kBlocks = 256;  // 65 536 names
constexpr uint16_t kOverflow = UINT16_MAX;

using Name = std::array<char, 16>;

struct NameTable {
  std::mutex mutex;
  std::unordered_map<std::string_view, uint16_t> ids;  // views into the blocks
  std::array<std::atomic<Name*>, kBlocks> blocks{};
  std::atomic<uint32_t> count{1};  // 0 is the empty name

  ~NameTable() {
    for (auto& block : blocks) delete[] block.load();
  }
};

NameTable& table() {
  static NameTable names;
  return names;
}

std::string_view view_of(const Name& name) {
  return {name.data(), strnlen(name.data(), name.size())};
}

// The last few names interned by this thread: most steps come from a process seen just before.
struct RecentNames {
  static constexpr std::size_t kSlots = 64;
  std::array<Name, kSlots> names{};
  std::array<uint16_t, kSlots> ids{};
};
thread_local RecentNames recent;

std::size_t slot_of(const Name& name) {
  uint64_t a, b;
  std::memcpy(&a, name.data(), 8);
  std::memcpy(&b, name.data() + 8, 8);
  return static_cast<std::size_t>(((a ^ (b * 31)) * 0x9E3779B97F4A7C15ull) >> 58);
}
}  // namespace

uint16_t intern_comm(const Name& comm) {
  Name name{};
  std::size_t length = strnlen(comm.data(), 15);
  std::memcpy(name.data(), comm.data(), length);
  if (length == 0) return 0;
  std::size_t slot = slot_of(name);
  if (recent.ids[slot] != 0 && recent.names[slot] == name) return recent.ids[slot];

  NameTable& names = table();
  std::lock_guard lock(names.mutex);
  uint16_t id;
  if (auto it = names.ids.find(view_of(name)); it != names.ids.end()) {
    id = it->second;
  } else {
    uint32_t next = names.count.load(std::memory_order_relaxed);
    if (next >= kOverflow) return kOverflow;
    Name* block = names.blocks[next / kBlockSize].load(std::memory_order_relaxed);
    if (!block) {
      block = new Name[kBlockSize]{};
      names.blocks[next / kBlockSize].store(block, std::memory_order_release);
    }
    block[next % kBlockSize] = name;
    id = static_cast<uint16_t>(next);
    names.ids.emplace(view_of(block[next % kBlockSize]), id);
    names.count.store(next + 1, std::memory_order_release);
  }
  recent.names[slot] = name;
  recent.ids[slot] = id;
  return id;
}

std::string_view comm_name(uint16_t id) {
  if (id == 0) return {};
  if (id == kOverflow) return "?";
  NameTable& names = table();
  if (id >= names.count.load(std::memory_order_acquire)) return {};
  const Name* block = names.blocks[id / kBlockSize].load(std::memory_order_acquire);
  return view_of(block[id % kBlockSize]);
}

}  // namespace synfin::model
