#include "decode/record_upgrade.h"

#include <cstdint>
#include <cstring>

#include "synfin/abi.h"

namespace synfin::decode {

namespace {
// The format-1 layout, kept only to read old files.
struct Format1Event {
  uint64_t ts_ns;
  uint64_t cookie;
  uint64_t cgroup_id;
  uint32_t type;
  uint32_t tgid;
  uint16_t family;
  uint16_t sport;
  uint16_t dport;
  uint8_t old_state;
  uint8_t new_state;
  uint8_t saddr[16];
  uint8_t daddr[16];
  char comm[16];
  uint32_t flags;
  uint32_t reserved;
  uint64_t bytes_sent;
  uint64_t bytes_received;
};
static_assert(sizeof(Format1Event) == 112);
static_assert(offsetof(Format1Event, type) == 24);
static_assert(offsetof(Format1Event, bytes_sent) == 96);

// Format 1 knew these kinds; its flags had only TASK_IS_OWNER.
constexpr uint32_t kFormat1LastType = SYNFIN_EV_UNTRACK;
}  // namespace

std::vector<std::byte> upgrade_format1_record(std::span<const std::byte> record) {
  std::vector<std::byte> out(record.begin(), record.end());
  if (record.size() != sizeof(Format1Event)) return out;
  Format1Event old;
  std::memcpy(&old, record.data(), sizeof(old));
  synfin_event now{};
  now.ts_ns = old.ts_ns;
  now.cookie = old.cookie;
  // An unknown format-1 type stays unknown rather than becoming a newer kind.
  now.type = old.type <= kFormat1LastType ? old.type : 0xffffffffu;
  now.tgid = old.tgid;
  now.family = old.family;
  now.sport = old.sport;
  now.dport = old.dport;
  now.old_state = old.old_state;
  now.new_state = old.new_state;
  std::memcpy(now.saddr, old.saddr, sizeof(now.saddr));
  std::memcpy(now.daddr, old.daddr, sizeof(now.daddr));
  std::memcpy(now.comm, old.comm, sizeof(now.comm));
  now.flags = old.flags & SYNFIN_FLAG_TASK_IS_OWNER;
  now.bytes_sent = old.bytes_sent;
  out.resize(sizeof(now));
  std::memcpy(out.data(), &now, sizeof(now));
  return out;
}

}  // namespace synfin::decode
