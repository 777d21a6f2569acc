#include "decode/decoder.h"

#include <cstring>

#include "synfin/abi.h"

static_assert(SYNFIN_EV_TYPE_COUNT == 9, "DecodeCounters::decoded_by_type is sized for 9 types");

namespace synfin::decode {

namespace {
constexpr uint16_t kAfInet = 2;
constexpr uint16_t kAfInet6 = 10;

std::optional<model::EventKind> kind_from_type(uint32_t type) {
  switch (type) {
    case SYNFIN_EV_STATE:
      return model::EventKind::StateChange;
    case SYNFIN_EV_RETRANSMIT:
      return model::EventKind::Retransmit;
    case SYNFIN_EV_SYNACK_RETRANSMIT:
      return model::EventKind::SynAckRetransmit;
    case SYNFIN_EV_SEND_RESET:
      return model::EventKind::ResetSent;
    case SYNFIN_EV_RECEIVE_RESET:
      return model::EventKind::ResetReceived;
    case SYNFIN_EV_DESTROY:
      return model::EventKind::Destroyed;
    case SYNFIN_EV_ACCEPT:
      return model::EventKind::Accepted;
    case SYNFIN_EV_UNTRACK:
      return model::EventKind::Untracked;
    default:
      return std::nullopt;
  }
}
}  // namespace

std::optional<model::KernelSocket> decode_socket_record(const synfin_socket_record& raw) {
  model::KernelSocket socket;
  if (raw.family == kAfInet) {
    socket.tuple.family = model::AddressFamily::IPv4;
  } else if (raw.family == kAfInet6) {
    socket.tuple.family = model::AddressFamily::IPv6;
  } else {
    return std::nullopt;
  }
  auto state = model::state_from_kernel(raw.state);
  if (!state) return std::nullopt;
  socket.state = *state;
  socket.cookie = raw.cookie;
  std::memcpy(socket.tuple.local.address.data(), raw.saddr, sizeof(raw.saddr));
  std::memcpy(socket.tuple.remote.address.data(), raw.daddr, sizeof(raw.daddr));
  socket.tuple.local.port = raw.sport;
  socket.tuple.remote.port = raw.dport;
  socket.inode = raw.inode;
  socket.recv_queue_bytes = raw.rx_queue;
  socket.send_queue_bytes = raw.tx_queue;
  socket.bytes_sent = raw.bytes_sent;
  socket.bytes_received = raw.bytes_received;
  socket.time_wait_remaining_ns = raw.timer_expires_ns_from_now;
  return socket;
}

std::optional<model::Event> Decoder::decode(std::span<const std::byte> record) {
  if (record.size() < sizeof(synfin_event)) {
    ++counters_.truncated;
    return std::nullopt;
  }
  if (record.size() > sizeof(synfin_event)) {
    ++counters_.oversized;
    return std::nullopt;
  }
  synfin_event raw;
  std::memcpy(&raw, record.data(), sizeof(raw));  // the ring gives no alignment promise

  auto kind = kind_from_type(raw.type);
  if (!kind) {
    ++counters_.unknown_type;
    return std::nullopt;
  }
  model::Event event;
  event.kind = *kind;
  if (event.kind == model::EventKind::Untracked) {
    event.ts_ns = raw.ts_ns;
    event.cookie = raw.cookie;
    ++counters_.decoded;
    ++counters_.decoded_by_type[raw.type];
    return event;
  }
  if (raw.family == kAfInet) {
    event.tuple.family = model::AddressFamily::IPv4;
  } else if (raw.family == kAfInet6) {
    event.tuple.family = model::AddressFamily::IPv6;
  } else {
    ++counters_.bad_field;
    return std::nullopt;
  }
  if (event.kind == model::EventKind::StateChange) {
    auto from = model::state_from_kernel(raw.old_state);
    auto to = model::state_from_kernel(raw.new_state);
    if (!from || !to) {
      ++counters_.bad_field;
      return std::nullopt;
    }
    event.from = *from;
    event.to = *to;
  }
  event.ts_ns = raw.ts_ns;
  event.cookie = raw.cookie;
  std::memcpy(event.tuple.local.address.data(), raw.saddr, sizeof(raw.saddr));
  std::memcpy(event.tuple.remote.address.data(), raw.daddr, sizeof(raw.daddr));
  event.tuple.local.port = raw.sport;
  event.tuple.remote.port = raw.dport;
  event.task.pid = raw.tgid;
  event.task.cgroup_id = raw.cgroup_id;
  std::memcpy(event.task.comm.data(), raw.comm, sizeof(raw.comm));
  event.task.comm.back() = '\0';
  event.task_is_owner = (raw.flags & SYNFIN_FLAG_TASK_IS_OWNER) != 0;
  event.bytes_sent = raw.bytes_sent;
  event.bytes_received = raw.bytes_received;
  ++counters_.decoded;
  ++counters_.decoded_by_type[raw.type];
  return event;
}

}  // namespace synfin::decode
