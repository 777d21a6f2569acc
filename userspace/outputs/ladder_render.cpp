#include "outputs/ladder_render.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "decode/replay.h"

#include <fmt/format.h>

namespace synfin::outputs {

namespace {
using model::TcpState;

std::string endpoint(const model::SocketTuple& tuple, bool local) {
  char buffer[64];
  std::string address(format_address(tuple, local, buffer));
  uint16_t port = local ? tuple.local.port : tuple.remote.port;
  return tuple.family == model::AddressFamily::IPv6 ? fmt::format("[{}]:{}", address, port)
                                                    : fmt::format("{}:{}", address, port);
}

std::string owner_text(const model::Connection& c) {
  if (!c.has_owner()) return "owner unknown";
  return fmt::format("{}[{}]", c.owner_comm(), c.owner_pid());
}

// Column titles: the local end(s), or the local end and "peer".
std::string title(const model::Ladder& ladder, int end) {
  if (end >= static_cast<int>(ladder.ends.size())) return "peer";
  const model::Connection& c = ladder.ends[end].connection;
  return std::string(model::role_name(c.role));
}

std::string describe_end(const model::LadderEnd& end) {
  const model::Connection& c = end.connection;
  return fmt::format("{} {:x} {} {}", model::role_name(c.role), c.cookie, endpoint(c.tuple, true),
                     owner_text(c));
}

std::string verdict_text(const model::LadderEnd& end) {
  if (!end.classification) return "open";
  std::string text(model::verdict_name(end.classification->verdict));
  if (end.classification->verdict == model::Verdict::Invalid)
    text += fmt::format(" ({}: {}->{})", model::reason_name(end.classification->reason),
                        model::state_name(end.connection.violation_from),
                        model::state_name(end.connection.violation_to));
  else if (end.classification->reason != model::Reason::None)
    text += fmt::format(" ({})", model::reason_name(end.classification->reason));
  return text;
}

std::string anomalies_text(const model::Ladder& ladder) {
  std::string text;
  for (const auto& end : ladder.ends)
    for (std::size_t a = 0; a < model::kAnomalyCount; ++a)
      if (end.connection.packets().has(static_cast<model::Anomaly>(a)))
        text += (text.empty() ? "" : ", ") +
                std::string(model::anomaly_name(static_cast<model::Anomaly>(a)));
  return text.empty() ? "none" : text;
}

std::string time_text(uint64_t ts, uint64_t first) {
  if (!ts) return "(before)";
  return fmt::format("{:.3f}", static_cast<double>(ts - first) / 1e6);
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

constexpr int kStateWidth = 14;
constexpr int kArrowWidth = 42;
}  // namespace

std::string render_ladder_text(const model::Ladder& ladder, const Clock& clock) {
  std::string out;
  auto line = [&out](std::string text) {
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  };
  uint64_t first = ladder.first_ns();
  line(describe_end(ladder.ends[0]));
  if (ladder.peer_is_local())
    line(describe_end(ladder.ends[1]));
  else
    line("peer " + endpoint(ladder.ends[0].connection.tuple, false) + " (not local)");
  line(ladder.story());
  std::string verdicts = "verdict: " + verdict_text(ladder.ends[0]);
  if (ladder.peer_is_local()) verdicts += "; peer: " + verdict_text(ladder.ends[1]);
  line(verdicts + " · anomalies: " + anomalies_text(ladder));
  if (first)
    line(
        fmt::format("start {} (Unix ns); times in ms from it; ~ marks a packet inferred from a "
                    "state step, not seen",
                    clock.to_epoch_ns(first)));
  line("");
  auto rows = ladder.rows();
  int state_width = kStateWidth;  // wider only for a longer label in the left column
  for (const model::LadderRow& row : rows)
    if (!row.arrow && row.end == 0)
      state_width = std::max(state_width, static_cast<int>(model::state_label(row).size()) + 1);
  line(fmt::format("{:>10}  {:<{}}{:^{}}{}", "ms", title(ladder, 0), state_width, "", kArrowWidth,
                   title(ladder, 1)));
  for (const model::LadderRow& row : rows) {
    std::string left(state_width, ' '), right;
    std::string middle = "|" + std::string(kArrowWidth - 2, ' ') + "|";
    if (!row.arrow) {
      std::string name = model::state_label(row);
      if (row.end == 0)
        left = fmt::format("{:<{}}", name, state_width);
      else
        right = name;
    } else {
      bool rightwards = row.arrow->from == 0;
      std::string label = " " + row.arrow->label + " ";
      char fill = row.arrow->inferred ? '~' : '-';
      int room = kArrowWidth - 3 - static_cast<int>(label.size());
      int before = std::max(room / 2, 1), after = std::max(room - room / 2, 1);
      middle = rightwards
                   ? "|" + std::string(before, fill) + label + std::string(after, fill) + ">"
                   : "<" + std::string(before, fill) + label + std::string(after, fill) + "|";
    }
    line(fmt::format("{:>10}  {}{}  {}", time_text(row.ts_ns, first), left, middle, right));
  }
  return out;
}

std::string render_ladder_svg(const model::Ladder& ladder, const Clock& clock) {
  constexpr int kRow = 26, kLeft = 300, kRight = 700, kTop = 110, kWidth = 1000;
  auto rows = ladder.rows();
  uint64_t first = ladder.first_ns();
  int height = kTop + static_cast<int>(rows.size()) * kRow + 40;
  std::string out;
  auto add = [&out](std::string_view text) { out.append(text); };
  add(fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" class="ladder" viewBox="0 0 {} {}" width="{}" height="{}" font-family="monospace" font-size="13">)",
      kWidth, height, kWidth, height));
  add(R"(<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#222"/></marker></defs>)");
  // One line per end: the story of each, in the words TCP is taught with.
  std::string story = ladder.story();
  std::size_t split = story.find("; ");
  add(fmt::format(R"(<text x="20" y="22" font-size="14" class="story">{}</text>)",
                  xml_escape(story.substr(0, split))));
  if (split != std::string::npos)
    add(fmt::format(R"(<text x="20" y="40" font-size="14" class="story">{}</text>)",
                    xml_escape(story.substr(split + 2))));
  std::string verdicts = "verdict: " + verdict_text(ladder.ends[0]);
  if (ladder.peer_is_local()) verdicts += "; peer: " + verdict_text(ladder.ends[1]);
  bool troubled = anomalies_text(ladder) != "none" ||
                  std::any_of(ladder.ends.begin(), ladder.ends.end(), [](const auto& e) {
                    return e.classification && e.classification->verdict == model::Verdict::Invalid;
                  });
  add(fmt::format(R"(<text x="20" y="60" class="verdict" fill="{}">{} · anomalies: {}</text>)",
                  troubled ? "#b00020" : "#205020", xml_escape(verdicts),
                  xml_escape(anomalies_text(ladder))));
  if (first)
    add(fmt::format(R"(<text x="20" y="78" fill="#555">start {} Unix ns; times in ms</text>)",
                    clock.to_epoch_ns(first)));
  for (int end = 0; end < 2; ++end) {
    int x = end == 0 ? kLeft : kRight;
    std::string heading = end < static_cast<int>(ladder.ends.size())
                              ? describe_end(ladder.ends[end])
                              : "peer " + endpoint(ladder.ends[0].connection.tuple, false);
    add(fmt::format(
        R"(<text x="{}" y="92" text-anchor="middle" font-weight="bold" class="end">{}</text>)", x,
        xml_escape(heading)));
    add(fmt::format(R"(<line x1="{}" y1="100" x2="{}" y2="{}" stroke="#222" stroke-width="2"/>)", x,
                    x, height - 20));
  }
  int y = kTop;
  for (const model::LadderRow& row : rows) {
    add(fmt::format(R"(<text x="20" y="{}" fill="#555">{}</text>)", y + 4,
                    time_text(row.ts_ns, first)));
    if (!row.arrow) {
      bool left = row.end == 0;
      int x = left ? kLeft - 10 : kRight + 10;
      bool illegal = false;
      if (row.end < static_cast<int>(ladder.ends.size())) {
        const auto& end = ladder.ends[row.end];
        illegal = end.classification && end.classification->verdict == model::Verdict::Invalid &&
                  row.state == end.connection.violation_to;
      }
      add(fmt::format(
          R"(<text x="{}" y="{}" text-anchor="{}" class="state" data-end="{}" fill="{}">{}</text>)",
          x, y + 4, left ? "end" : "start", row.end, illegal ? "#b00020" : "#000",
          model::state_name(row.state)));
      if (row.awaiting_peer_fin)  // beside the column, on the inner side (no arrow on this row)
        add(fmt::format(
            R"(<text x="{}" y="{}" text-anchor="{}" class="state-note" data-end="{}" fill="#555">awaiting the peer's FIN</text>)",
            left ? kLeft + 10 : kRight - 10, y + 4, left ? "start" : "end", row.end));
    } else {
      bool rightwards = row.arrow->from == 0;
      add(fmt::format(
          R"svg(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#222" stroke-width="1.5" marker-end="url(#head)" class="packet{}"{}/>)svg",
          rightwards ? kLeft : kRight, y - 6, rightwards ? kRight : kLeft, y + 6,
          row.arrow->inferred ? " inferred" : "",
          row.arrow->inferred ? R"svg( stroke-dasharray="5,4")svg" : ""));
      add(fmt::format(
          R"(<text x="{}" y="{}" text-anchor="middle" class="packet-label" fill="{}">{}{}</text>)",
          (kLeft + kRight) / 2, y - 8, row.arrow->inferred ? "#777" : "#000",
          xml_escape(row.arrow->label), row.arrow->inferred ? " (inferred)" : ""));
    }
    y += kRow;
  }
  add("</svg>");
  return out;
}

namespace {
class LadderCollector final : public model::ConnectionObserver {
 public:
  void on_transition(const model::Connection&, TcpState, TcpState, uint64_t) override {}
  void on_closed(const model::Connection& c, const model::Classification& k, uint64_t) override {
    ends.push_back({c, k});
  }
  std::vector<model::LadderEnd> ends;
};
}  // namespace

std::vector<model::LadderEnd> ladder_ends_of(const decode::Recording& recording) {
  LadderCollector collector;
  model::ConnectionTable table(262144, collector);
  decode::replay(recording, table);
  table.for_each([&](const model::Connection& c) { collector.ends.push_back({c, std::nullopt}); });
  std::stable_sort(collector.ends.begin(), collector.ends.end(), [](const auto& a, const auto& b) {
    return a.connection.first_seen_ns < b.connection.first_seen_ns;
  });
  return collector.ends;
}

std::string render_recording_ladders(const decode::Recording& recording,
                                     std::optional<uint64_t> cookie) {
  auto ends = ladder_ends_of(recording);
  Clock clock{recording.realtime_minus_monotonic_ns};
  std::string out;
  std::set<uint64_t> drawn;
  for (const model::LadderEnd& end : ends) {
    const model::Connection& c = end.connection;
    if (cookie ? c.cookie != *cookie : (c.role == model::Role::Listener || drawn.count(c.cookie)))
      continue;
    auto ladder = model::build_ladder(c.cookie, ends);
    if (!ladder) continue;
    for (const auto& drawn_end : ladder->ends) drawn.insert(drawn_end.connection.cookie);
    if (!out.empty()) out += "\n";
    out += render_ladder_text(*ladder, clock);
  }
  return out;
}

}  // namespace synfin::outputs
