#include "model/stuck.h"

#include <algorithm>
#include <charconv>

namespace synfin::model {

namespace {
constexpr uint64_t kSecond = 1'000'000'000ull;
}

StuckThresholds StuckThresholds::defaults() {
  StuckThresholds t;
  t.ns[index_of(TcpState::CloseWait)] = 60 * kSecond;  // the application never called close()
  t.ns[index_of(TcpState::FinWait2)] = 60 * kSecond;   // the peer never sent its FIN
  t.ns[index_of(TcpState::LastAck)] = 30 * kSecond;    // our FIN is never acknowledged
  t.ns[index_of(TcpState::FinWait1)] = 60 * kSecond;   // our FIN cannot leave (zero window)
  t.ns[index_of(TcpState::Closing)] = 30 * kSecond;
  t.ns[index_of(TcpState::SynSent)] = 10 * kSecond;  // SYN retransmits under way
  t.ns[index_of(TcpState::SynRecv)] = 10 * kSecond;
  return t;
}

Status StuckThresholds::set_from_text(const std::string& text) {
  auto equals = text.find('=');
  if (equals == std::string::npos) return Error{"expected STATE=SECONDS, e.g. CLOSE_WAIT=30"};
  auto state = parse_state(text.substr(0, equals));
  if (!state || *state == TcpState::TimeWait || *state == TcpState::NewSynRecv ||
      *state == TcpState::Unknown)
    return Error{"unknown or untracked state '" + text.substr(0, equals) + "'"};
  double seconds = 0;
  std::string number = text.substr(equals + 1);
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), seconds);
  if (error != std::errc() || end != number.data() + number.size() || seconds < 0)
    return Error{"threshold '" + number + "' is not a number of seconds"};
  ns[index_of(*state)] = static_cast<uint64_t>(seconds * 1e9);
  return Ok{};
}

StuckSocket age_of(const Connection& c, uint64_t now_ns) {
  StuckSocket s;
  s.connection = &c;
  if (c.state_entered_ns()) {
    s.age_ns = now_ns > c.state_entered_ns() ? now_ns - c.state_entered_ns() : 0;
  } else {
    s.age_ns = now_ns > c.first_seen_ns ? now_ns - c.first_seen_ns : 0;
    s.age_is_lower_bound = true;
  }
  return s;
}

std::vector<StuckSocket> find_stuck(const ConnectionTable& table, const StuckThresholds& thresholds,
                                    uint64_t now_ns) {
  std::vector<StuckSocket> stuck;
  table.for_each([&](const Connection& c) {
    uint64_t threshold = thresholds.for_state(c.state);
    if (threshold == 0 || c.role == Role::Listener) return;
    StuckSocket s = age_of(c, now_ns);
    if (s.age_ns >= threshold) stuck.push_back(s);
  });
  std::sort(stuck.begin(), stuck.end(),
            [](const StuckSocket& a, const StuckSocket& b) { return a.age_ns > b.age_ns; });
  return stuck;
}

}  // namespace synfin::model
