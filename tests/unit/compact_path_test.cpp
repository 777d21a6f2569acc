// The daemon's compact mode: a socket's path arrives whole (at its end) or in pieces (live
// walks), and must be judged exactly as its step-by-step records would have been.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "decode/decoder.h"
#include "decode/recording.h"
#include "event_builders.h"
#include "model/daemon_model.h"
#include "recording_observer.h"

namespace synfin::model {
namespace {

namespace fs = std::filesystem;
using S = TcpState;
constexpr uint64_t kSecond = 1'000'000'000ull;

// What the BPF programs keep in a socket's storage, built from the step-by-step records of the
// same life (one slot per step, owner from the owner's own steps and accept()).
class KernelPaths {
 public:
  // Returns the path to apply when the record ends a socket.
  std::optional<SocketPath> add(const Event& e) {
    SocketPath& p = paths_[e.cookie];
    p.cookie = e.cookie;
    if (e.tuple.local.port) p.tuple.local = e.tuple.local;
    if (e.tuple.remote.port) p.tuple.remote = e.tuple.remote;
    p.tuple.family = e.tuple.family;
    p.tuple.netns = e.tuple.netns;
    switch (e.kind) {
      case EventKind::StateChange:
        if (p.step_count < SocketPath::kMaxSteps)
          p.steps[p.step_count++] = {e.from, e.to, e.ts_ns};
        else
          p.truncated = true, p.steps[SocketPath::kMaxSteps - 1] = {e.from, e.to, e.ts_ns};
        if (e.task_is_owner) p.owner_known = true, p.owner = e.task;
        break;
      case EventKind::Accepted:
        p.owner_known = true, p.owner = e.task;
        break;
      case EventKind::ResetSent:
        p.reset_sent = true;
        break;
      case EventKind::ResetReceived:
        p.reset_received = true;
        break;
      case EventKind::Retransmit:
        ++p.retransmits;
        break;
      case EventKind::Destroyed: {
        SocketPath ended = p;
        ended.ended = true;
        ended.read_ns = e.ts_ns;
        paths_.erase(e.cookie);
        return ended;
      }
      default:
        break;
    }
    return std::nullopt;
  }
  std::vector<SocketPath> live(uint64_t read_ns) const {
    std::vector<SocketPath> rows;
    for (const auto& [cookie, path] : paths_) {
      rows.push_back(path);
      rows.back().read_ns = read_ns;
    }
    return rows;
  }

 private:
  std::map<uint64_t, SocketPath> paths_;
};

struct Judged {
  Outcome outcome;
  Verdict verdict;
  Reason reason;
  Role role;
  std::vector<S> states;
  uint32_t owner;
  bool operator==(const Judged&) const = default;
};

Judged judged(const testing::ClosedRecord& r) {
  Judged j{r.classification.outcome,
           r.classification.verdict,
           r.classification.reason,
           r.connection.role,
           {},
           r.connection.owner_pid()};
  for (uint8_t i = 0; i < r.connection.history_length(); ++i)
    j.states.push_back(r.connection.visit_state(i));
  return j;
}

// Every real-kernel recording: each destroyed socket's path, applied whole at its end, is
// judged like its records applied one by one (XDP recordings: the socket half).
TEST(CompactPathTest, EveryFixtureIsJudgedTheSameFromItsPath) {
  int sockets = 0;
  for (const auto& entry : fs::directory_iterator(SYNFIN_FIXTURE_DIR)) {
    if (entry.path().extension() != ".synfinrec") continue;
    auto recording = decode::read_recording(entry.path().string());
    ASSERT_TRUE(recording.ok()) << entry.path();
    testing::RecordingObserver by_step, by_path;
    ConnectionTable step_table(1024, by_step), path_table(1024, by_path);
    decode::Decoder decoder;
    KernelPaths kernel;
    std::map<uint64_t, int> destroyed;
    for (const auto& record : recording->records) {
      auto event = decoder.decode(record);
      if (!event || event->kind == EventKind::Packet) continue;
      step_table.apply(*event);
      if (event->kind == EventKind::Destroyed) ++destroyed[event->cookie];
      if (auto ended = kernel.add(*event)) path_table.apply_path(*ended);
    }
    std::map<uint64_t, Judged> expected;
    for (const auto& r : by_step.closed)
      if (destroyed.count(r.connection.cookie)) expected.emplace(r.connection.cookie, judged(r));
    ASSERT_EQ(by_path.closed.size(), expected.size()) << entry.path().filename();
    for (const auto& r : by_path.closed) {
      ASSERT_TRUE(expected.count(r.connection.cookie)) << entry.path().filename();
      EXPECT_EQ(judged(r), expected.at(r.connection.cookie))
          << entry.path().filename() << " cookie " << r.connection.cookie;
      ++sockets;
    }
  }
  EXPECT_GE(sockets, 30);
}

SocketPath path_of(uint64_t cookie, std::initializer_list<S> states, uint64_t first_ns = kSecond) {
  SocketPath p;
  p.cookie = cookie;
  p.tuple = testing::loopback_tuple(40000, 80);
  const S* previous = states.begin();
  uint64_t ts = first_ns;
  for (const S* s = states.begin() + 1; s != states.end(); ++s, ++previous)
    p.steps[p.step_count++] = {*previous, *s, ts += 1000};
  p.read_ns = ts + 1000;
  return p;
}

TEST(CompactPathTest, WalkedThenEndedCountsEachStepOnce) {
  testing::RecordingObserver observer;
  ConnectionTable table(16, observer);
  SocketPath live = path_of(7, {S::Close, S::SynSent, S::Established});
  live.owner_known = true;
  live.owner = testing::task(42, "client");
  table.apply_path(live);
  table.apply_path(live);  // the next walk, nothing new
  ASSERT_NE(table.find(7), nullptr);
  EXPECT_EQ(table.find(7)->state, S::Established);
  EXPECT_EQ(observer.transitions, 2);

  SocketPath ended =
      path_of(7, {S::Close, S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close});
  ended.ended = true;
  table.apply_path(ended);
  EXPECT_EQ(observer.transitions, 5);
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Valid);
  EXPECT_EQ(observer.closed[0].classification.outcome, Outcome::ActiveClose);
  EXPECT_EQ(observer.closed[0].connection.owner_pid(), 42u);
  EXPECT_EQ(table.find(7), nullptr);
}

TEST(CompactPathTest, AnEndedPathIsNotBroughtBackByAWalkThatReadItEarlier) {
  DaemonModel model({});
  SocketPath ended =
      path_of(9, {S::Listen, S::SynRecv, S::Established, S::CloseWait, S::LastAck, S::Close});
  ended.ended = true;
  uint64_t walk_start = ended.read_ns - 500;
  model.table().apply_path(ended);
  SocketPath walked = path_of(9, {S::Listen, S::SynRecv, S::Established, S::CloseWait});
  std::vector<SocketPath> live{walked};
  model.refresh(live, walk_start, ended.read_ns + 1000);
  EXPECT_EQ(model.table().find(9), nullptr);
  EXPECT_EQ(model.live_drift().lost, 0u);
}

// The kernel side judged and counted it; a clean close outside the sample does not cross, so a
// walked socket that is gone without a record is forgotten, not reported (nor called lost).
TEST(CompactPathTest, AWalkedSocketGoneWithoutARecordIsForgottenNotReported) {
  DaemonModel model({});
  std::vector<SocketPath> live{path_of(11, {S::Close, S::SynSent, S::Established})};
  model.refresh(live, 2 * kSecond, 2 * kSecond + 1000);
  ASSERT_NE(model.table().find(11), nullptr);
  model.refresh({}, 3 * kSecond, 3 * kSecond + 1000);
  EXPECT_EQ(model.table().find(11), nullptr);
  EXPECT_EQ(model.live_drift().lost, 0u);
  EXPECT_EQ(model.live_drift().ended_unsent, 1u);
  int closes = 0;
  model.for_each_recent_close([&](const ClosedConnection&) { ++closes; });
  EXPECT_EQ(closes, 0);
}

// A clean active close outside the sample arrives only as the TIME_WAIT socket it left: the
// tracker counts it and the live entry goes, with no close reported.
TEST(CompactPathTest, ATimeWaitRecordEntersTheTrackerAndEndsTheLiveEntry) {
  DaemonModel model({});
  SocketPath p = path_of(12, {S::Close, S::SynSent, S::Established, S::FinWait1});
  model.refresh(std::vector<SocketPath>{p}, 2 * kSecond, 2 * kSecond + 1000);
  ASSERT_NE(model.table().find(12), nullptr);
  Event tw;
  tw.kind = EventKind::TimeWaitEntered;
  tw.cookie = 12;
  tw.ts_ns = 2 * kSecond + 5000;
  tw.tuple = p.tuple;
  model.apply(tw);
  EXPECT_EQ(model.table().find(12), nullptr);
  EXPECT_EQ(model.time_wait().size(), 1u);
  int closes = 0;
  model.for_each_recent_close([&](const ClosedConnection&) { ++closes; });
  EXPECT_EQ(closes, 0);
}

TEST(CompactPathTest, AFullPathKeepsItsLatestStepAndSaysItIsTruncated) {
  testing::RecordingObserver observer;
  ConnectionTable table(16, observer);
  SocketPath p =
      path_of(5, {S::Close, S::SynSent, S::Established, S::FinWait1, S::FinWait1, S::FinWait1,
                  S::FinWait1, S::FinWait1, S::FinWait1, S::FinWait1, S::FinWait2});
  ASSERT_EQ(p.step_count, SocketPath::kMaxSteps);
  table.apply_path(p);
  // One more step than the storage holds: the kernel reused the last slot.
  p.truncated = true;
  p.steps[SocketPath::kMaxSteps - 1] = {S::FinWait2, S::Close, p.read_ns + 5000};
  p.ended = true;
  p.read_ns += 10000;
  table.apply_path(p);
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].connection.state, S::Close);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Incomplete);
  EXPECT_EQ(observer.closed[0].classification.reason, Reason::HistoryTruncated);
}

TEST(CompactPathTest, SeededSocketsAdvanceFromTheirPathAndStayJoinedMidLife) {
  DaemonModel model({});
  KernelSocket existing;
  existing.cookie = 3;
  existing.tuple = testing::loopback_tuple(80, 40000);
  existing.state = S::Established;
  std::vector<KernelSocket> snapshot{existing};
  model.seed(snapshot, kSecond);
  // Its first step after start created its storage: the path begins mid-life.
  SocketPath ended = path_of(3, {S::Established, S::CloseWait, S::LastAck, S::Close}, 2 * kSecond);
  ended.ended = true;
  model.table().apply_path(ended);
  int closes = 0;
  model.for_each_recent_close([&](const ClosedConnection& c) {
    ++closes;
    EXPECT_EQ(c.classification.verdict, Verdict::Incomplete);
    EXPECT_EQ(c.classification.reason, Reason::JoinedMidLife);
    EXPECT_EQ(c.classification.outcome, Outcome::PassiveClose);
  });
  EXPECT_EQ(closes, 1);
}

synfin_path_record raw_record() {
  synfin_path_record r{};
  r.ts_ns = 5 * kSecond;
  r.cookie = 77;
  r.type = SYNFIN_EV_PATH;
  r.record_flags = SYNFIN_PATH_RECORD_ENDED;
  r.bytes_sent = 10;
  r.path.family = SYNFIN_AF_INET6;
  r.path.sport = 443;
  r.path.dport = 50000;
  r.path.saddr[15] = 1;
  r.path.daddr[15] = 1;
  r.path.steps = 2;
  r.path.step_from[0] = 10;  // LISTEN
  r.path.step_to[0] = 3;     // SYN_RECV
  r.path.step_ns[0] = kSecond;
  r.path.step_from[1] = 3;
  r.path.step_to[1] = 1;  // ESTABLISHED
  r.path.step_ns[1] = 2 * kSecond;
  r.path.path_flags = SYNFIN_PATH_OWNER_KNOWN | SYNFIN_PATH_RESET_SENT;
  r.path.owner_tgid = 1234;
  std::memcpy(r.path.owner_comm, "nginx", 5);
  r.path.retransmits = 3;
  return r;
}

std::span<const std::byte> bytes_of(const synfin_path_record& r) {
  return {reinterpret_cast<const std::byte*>(&r), sizeof(r)};
}

TEST(CompactPathTest, DecoderReadsEveryFieldOfAPathRecord) {
  decode::Decoder decoder;
  synfin_path_record raw = raw_record();
  ASSERT_TRUE(decode::is_path_record(bytes_of(raw)));
  auto path = decoder.decode_path(bytes_of(raw));
  ASSERT_TRUE(path);
  EXPECT_TRUE(path->ended);
  EXPECT_EQ(path->cookie, 77u);
  EXPECT_EQ(path->tuple.family, AddressFamily::IPv6);
  EXPECT_EQ(path->tuple.local.port, 443);
  EXPECT_EQ(path->tuple.remote.port, 50000);
  ASSERT_EQ(path->step_count, 2);
  EXPECT_EQ(path->steps[0].from, S::Listen);
  EXPECT_EQ(path->steps[1].to, S::Established);
  EXPECT_EQ(path->steps[1].ts_ns, 2 * kSecond);
  EXPECT_TRUE(path->owner_known);
  EXPECT_EQ(path->owner.pid, 1234u);
  EXPECT_EQ(path->owner.comm_view(), "nginx");
  EXPECT_TRUE(path->reset_sent);
  EXPECT_FALSE(path->reset_received);
  EXPECT_EQ(path->retransmits, 3u);
  EXPECT_EQ(decoder.counters().decoded_by_type[SYNFIN_EV_PATH], 1u);
}

TEST(CompactPathTest, DecoderRefusesDamagedPathRecords) {
  decode::Decoder decoder;
  synfin_path_record bad_state = raw_record();
  bad_state.path.step_to[1] = 99;
  EXPECT_FALSE(decoder.decode_path(bytes_of(bad_state)));
  synfin_path_record too_many = raw_record();
  too_many.path.steps = SYNFIN_PATH_STEPS + 1;
  EXPECT_FALSE(decoder.decode_path(bytes_of(too_many)));
  synfin_path_record good = raw_record();
  EXPECT_FALSE(decoder.decode_path(bytes_of(good).first(sizeof(good) - 1)));
  EXPECT_EQ(decoder.counters().bad_field, 2u);
  EXPECT_EQ(decoder.counters().truncated, 1u);
  // A path record handed to the per-step decoder is refused, not misread.
  EXPECT_FALSE(decoder.decode(bytes_of(good)));
}

// A compact-mode refresh while a walk of the kernel's table is under way keeps the closes that
// walk must know of: a socket it listed, closed since, does not come back from it.
TEST(CompactPathTest, ARefreshDuringAWalkKeepsTheClosesTheWalkNeeds) {
  DaemonModel model({});
  // Steps 1 µs apart from 1 ms: ESTABLISHED at +2 µs, CLOSE at +5 µs, destroyed at +6 µs.
  std::vector<Event> life =
      testing::Sequence(5, testing::loopback_tuple(40000, 80))
          .steps({S::Close, S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close})
          .signal(EventKind::Destroyed)
          .events();
  uint64_t walk_start = life[1].ts_ns + 500;  // the walk lists cookie 5 while it is open
  for (std::size_t i = 0; i < 2; ++i) model.apply(life[i]);
  model.note_walk(walk_start);
  for (std::size_t i = 2; i < life.size(); ++i) model.apply(life[i]);
  ASSERT_EQ(model.table().find(5), nullptr);
  KernelSocket listed;
  listed.cookie = 5;
  listed.tuple = testing::loopback_tuple(40000, 80);
  listed.state = S::Established;
  uint64_t after = life.back().ts_ns + 1000;
  model.refresh({}, after, after + 1000);  // a live walk that began after the close
  model.reconcile(std::vector<KernelSocket>{listed}, walk_start, after + 2000);
  model.note_walk(std::nullopt);
  EXPECT_EQ(model.table().find(5), nullptr);
  EXPECT_EQ(model.live_drift().found, 0u);
}

}  // namespace
}  // namespace synfin::model
