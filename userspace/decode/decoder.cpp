#include "decode/decoder.h"

#include <cstring>

#include "synfin/abi.h"

namespace synfin::decode {

namespace {
std::optional<model::AddressFamily> family_from_kernel(uint16_t family) {
  if (family == SYNFIN_AF_INET) return model::AddressFamily::IPv4;
  if (family == SYNFIN_AF_INET6) return model::AddressFamily::IPv6;
  return std::nullopt;
}

// One reader per record layout (the layout column of SYNFIN_RECORD_KINDS names the struct):
// nullopt for a field outside the kernel's range.
std::optional<Record> read(const synfin_event& raw);
std::optional<Record> read(const synfin_packet& raw);
std::optional<Record> read(const synfin_interface_record& raw);
std::optional<Record> read(const synfin_clock_record& raw);
std::optional<Record> read(const synfin_path_record& raw);

using Reader = std::optional<Record> (*)(std::span<const std::byte>);

template <typename Raw>
std::optional<Record> read_layout(std::span<const std::byte> record) {
  Raw raw;
  std::memcpy(&raw, record.data(), sizeof(raw));  // no alignment promise
  return read(raw);
}

namespace origins {
constexpr RecordOrigin KERNEL = RecordOrigin::Kernel;
constexpr RecordOrigin USERSPACE = RecordOrigin::Userspace;
}  // namespace origins

struct KindInfo {
  std::string_view source;
  std::size_t size = 0;  // the layout's: a record is exactly this long
  Reader read = nullptr;
  RecordOrigin origin = RecordOrigin::None;
};

constexpr std::array<KindInfo, model::kEventKindSlots> kKinds = [] {
  std::array<KindInfo, model::kEventKindSlots> kinds{};
#define SYNFIN_KIND_INFO(abi, value, cpp, source, layout, origin) \
  kinds[value] = {source, sizeof(layout), &read_layout<layout>, origins::origin};
  SYNFIN_RECORD_KINDS(SYNFIN_KIND_INFO)
#undef SYNFIN_KIND_INFO
  return kinds;
}();
#define SYNFIN_KIND_IS_DENSE(abi, value, cpp, source, layout, origin)                   \
  static_assert(value > 0 && value < SYNFIN_EV_TYPE_COUNT, #abi " outside 1..count-1"); \
  static_assert(offsetof(layout, type) == offsetof(synfin_event, type),                 \
                #layout ": type must be where every layout has it");
SYNFIN_RECORD_KINDS(SYNFIN_KIND_IS_DENSE)
#undef SYNFIN_KIND_IS_DENSE

constexpr std::size_t kTypeOffset = offsetof(synfin_event, type);

uint32_t type_of(std::span<const std::byte> record) {
  uint32_t type = 0;
  std::memcpy(&type, record.data() + kTypeOffset, sizeof(type));  // no alignment promise
  return type;
}
}  // namespace

std::string_view record_source_name(std::size_t type) {
  return type < kKinds.size() ? kKinds[type].source : std::string_view{};
}

RecordOrigin record_origin(std::size_t type) {
  return type < kKinds.size() ? kKinds[type].origin : RecordOrigin::None;
}

std::optional<model::KernelSocket> decode_socket_record(const synfin_socket_record& raw) {
  model::KernelSocket socket;
  auto family = family_from_kernel(raw.family);
  if (!family) return std::nullopt;
  socket.tuple.family = *family;
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
  socket.syn_queue = raw.syn_queue;
  socket.bytes_sent = raw.bytes_sent;
  socket.time_wait_reaped_at_ns = raw.time_wait_reaped_at_ns;
  socket.has_path = raw.has_path != 0;
  socket.awaiting_peer_fin =
      socket.state == model::TcpState::TimeWait &&
      raw.time_wait_substate == static_cast<uint8_t>(model::TcpState::FinWait2);
  return socket;
}

bool is_path_record(std::span<const std::byte> record) {
  return record.size() >= kTypeOffset + sizeof(uint32_t) && type_of(record) == SYNFIN_EV_PATH;
}

namespace {
std::optional<Record> read(const synfin_event& raw) {
  model::Event event;
  event.kind = static_cast<model::EventKind>(raw.type);
  event.ts_ns = raw.ts_ns;
  event.cookie = raw.cookie;
  if (event.kind == model::EventKind::Untracked) return event;  // only the cookie matters
  auto family = family_from_kernel(raw.family);
  if (!family) return std::nullopt;
  event.tuple.family = *family;
  if (event.kind == model::EventKind::StateChange) {
    auto from = model::state_from_kernel(raw.old_state);
    auto to = model::state_from_kernel(raw.new_state);
    if (!from || !to) return std::nullopt;
    event.from = *from;
    event.to = *to;
  }
  std::memcpy(event.tuple.local.address.data(), raw.saddr, sizeof(raw.saddr));
  std::memcpy(event.tuple.remote.address.data(), raw.daddr, sizeof(raw.daddr));
  event.tuple.local.port = raw.sport;
  event.tuple.remote.port = raw.dport;
  event.tuple.netns = raw.netns;
  event.task.pid = raw.tgid;
  std::memcpy(event.task.comm.data(), raw.comm, sizeof(raw.comm));
  event.task.comm.back() = '\0';
  event.task_is_owner = (raw.flags & SYNFIN_FLAG_TASK_IS_OWNER) != 0;
  event.bytes_sent = raw.bytes_sent;
  if (event.kind == model::EventKind::ResetSent || event.kind == model::EventKind::Dropped) {
    std::size_t reasons = event.kind == model::EventKind::ResetSent
                              ? std::size_t{SYNFIN_RESET_REASON_COUNT}
                              : std::size_t{SYNFIN_DROP_REASON_COUNT};
    if (raw.reason >= reasons) return std::nullopt;
    event.reason = static_cast<uint8_t>(raw.reason);
    if (raw.new_state) {
      auto state = model::state_from_kernel(raw.new_state);
      if (!state) return std::nullopt;
      event.socket_state = *state;
    }
    event.no_socket = (raw.flags & SYNFIN_FLAG_NO_SOCKET) != 0;
  }
  if (raw.flags & SYNFIN_FLAG_SEQ_VALID)
    event.sequence = {true, raw.snd_una, raw.snd_nxt, raw.rcv_nxt};
  return event;
}

std::optional<Record> read(const synfin_interface_record& raw) {
  model::Event event;
  event.kind = model::EventKind::Interface;
  event.ts_ns = raw.ts_ns;
  event.packet.ifindex = raw.ifindex;
  std::memcpy(event.packet.interface_name.data(), raw.name, sizeof(raw.name));
  event.packet.interface_name.back() = '\0';
  return event;
}

std::optional<Record> read(const synfin_clock_record& raw) {
  model::Event event;
  event.kind = model::EventKind::Clock;
  event.ts_ns = raw.ts_ns;
  return event;
}

std::optional<Record> read(const synfin_packet& raw) {
  auto family = family_from_kernel(raw.family);
  if (!family) return std::nullopt;
  model::Event event;
  event.kind = model::EventKind::Packet;
  event.ts_ns = raw.ts_ns;
  event.cookie = raw.cookie;
  event.tuple.family = *family;
  // Seen arriving: the packet's destination is this host's end of the connection.
  std::memcpy(event.tuple.local.address.data(), raw.dst_addr, sizeof(raw.dst_addr));
  std::memcpy(event.tuple.remote.address.data(), raw.src_addr, sizeof(raw.src_addr));
  event.tuple.local.port = raw.dst_port;
  event.tuple.remote.port = raw.src_port;
  model::Packet& p = event.packet;
  p.ifindex = raw.ifindex;
  p.tcp_flags = raw.tcp_flags;
  if (raw.flag_class > SYNFIN_XDP_OTHER) return std::nullopt;
  p.flag_class = raw.flag_class;
  p.completes_handshake = (raw.packet_flags & SYNFIN_PACKET_HANDSHAKE_ACK) != 0;
  if (raw.sk_state) {
    auto state = model::state_from_kernel(raw.sk_state);
    if (!state) return std::nullopt;
    p.socket_state = *state;
  }
  p.socket_sequence_valid = (raw.packet_flags & SYNFIN_PACKET_SOCKET_SEQ) != 0;
  p.seq = raw.seq;
  p.ack = raw.ack;
  p.end_seq = raw.end_seq;
  p.window = raw.window;
  p.socket_rcv_nxt = raw.sk_rcv_nxt;
  p.socket_write_seq = raw.sk_write_seq;
  p.socket_rcv_wnd = raw.sk_rcv_wnd;
  p.accept_queue = raw.accept_queue;
  p.accept_limit = raw.accept_limit;
  return event;
}

std::optional<Record> read(const synfin_path_record& raw) {
  const synfin_path& p = raw.path;
  model::SocketPath path;
  path.cookie = raw.cookie;
  path.read_ns = raw.ts_ns;
  path.ended = (raw.record_flags & SYNFIN_PATH_RECORD_ENDED) != 0;
  auto family = family_from_kernel(p.family);
  if (!family || p.steps > model::SocketPath::kMaxSteps) return std::nullopt;
  path.tuple.family = *family;
  std::memcpy(path.tuple.local.address.data(), p.saddr, sizeof(p.saddr));
  std::memcpy(path.tuple.remote.address.data(), p.daddr, sizeof(p.daddr));
  path.tuple.local.port = p.sport;
  path.tuple.remote.port = p.dport;
  path.tuple.netns = p.netns;
  path.step_count = p.steps;
  for (uint8_t i = 0; i < p.steps; ++i) {
    auto from = model::state_from_kernel(p.step_from[i]);
    auto to = model::state_from_kernel(p.step_to[i]);
    if (!from || !to || p.step_ns[i] == 0) {
      // A live walk can copy a path while its next step is being written: what is whole is
      // kept. An end record is written once, after every step: a hole there is damage.
      if (path.ended) return std::nullopt;
      path.step_count = i;
      break;
    }
    path.steps[i] = {*from, *to, p.step_ns[i]};
  }
  path.truncated = (p.path_flags & SYNFIN_PATH_TRUNCATED) != 0;
  path.owner_known = (p.path_flags & SYNFIN_PATH_OWNER_KNOWN) != 0;
  path.owner_inherited = (p.path_flags & SYNFIN_PATH_OWNER_INHERITED) != 0;
  if (path.owner_known) {
    path.owner.pid = p.owner_tgid;
    std::memcpy(path.owner.comm.data(), p.owner_comm, sizeof(p.owner_comm));
    path.owner.comm.back() = '\0';
  }
  path.reset_sent = (p.path_flags & SYNFIN_PATH_RESET_SENT) != 0;
  path.reset_received = (p.path_flags & SYNFIN_PATH_RESET_RECEIVED) != 0;
  path.retransmits = p.retransmits;
  path.bytes_sent = raw.bytes_sent;
  path.bytes_sent_at_state_entry = p.bytes_sent_at_entry;
  return path;
}
}  // namespace

std::optional<Record> Decoder::decode_record(std::span<const std::byte> record) {
  if (record.size() < kTypeOffset + sizeof(uint32_t)) {
    ++counters_.truncated;
    return std::nullopt;
  }
  uint32_t type = type_of(record);
  if (type >= kKinds.size() || !kKinds[type].read) {
    ++counters_.unknown_type;
    return std::nullopt;
  }
  const KindInfo& kind = kKinds[type];
  if (record.size() != kind.size) {
    ++(record.size() < kind.size ? counters_.truncated : counters_.oversized);
    return std::nullopt;
  }
  std::optional<Record> decoded = kind.read(record);
  if (!decoded) {
    ++counters_.bad_field;
    return std::nullopt;
  }
  ++counters_.decoded;
  ++counters_.decoded_by_type[type];
  return decoded;
}

std::optional<model::Event> Decoder::decode(std::span<const std::byte> record) {
  auto decoded = decode_record(record);
  if (!decoded || !std::holds_alternative<model::Event>(*decoded)) return std::nullopt;
  return std::get<model::Event>(std::move(*decoded));
}

std::optional<model::SocketPath> Decoder::decode_path(std::span<const std::byte> record) {
  auto decoded = decode_record(record);
  if (!decoded || !std::holds_alternative<model::SocketPath>(*decoded)) return std::nullopt;
  return std::get<model::SocketPath>(std::move(*decoded));
}

}  // namespace synfin::decode
