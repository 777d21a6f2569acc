#include "api/query_parameters.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace synfin::api {

namespace {
using model::TcpState;

// Enumerations are matched case-insensitively, '-' standing for '_' (close-wait, CLOSE_WAIT).
std::string enum_key(std::string_view text) {
  std::string key(text);
  std::transform(key.begin(), key.end(), key.begin(), [](char c) {
    return c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  return key;
}

template <typename Enum, std::size_t N, typename NameOf>
std::optional<Enum> parse_enum(std::string_view text, const std::array<Enum, N>& values,
                               NameOf name_of) {
  std::string key = enum_key(text);
  for (Enum value : values)
    if (enum_key(name_of(value)) == key) return value;
  return std::nullopt;
}

template <typename Enum, std::size_t N, typename NameOf>
std::string names_of(const std::array<Enum, N>& values, NameOf name_of) {
  std::string names;
  for (Enum value : values) names += (names.empty() ? "" : ", ") + std::string(name_of(value));
  return names;
}

constexpr std::array<model::Verdict, 3> kVerdicts = {model::Verdict::Valid, model::Verdict::Invalid,
                                                     model::Verdict::Incomplete};

std::array<model::Outcome, model::kOutcomeCount> all_outcomes() {
  std::array<model::Outcome, model::kOutcomeCount> outcomes{};
  for (std::size_t i = 0; i < outcomes.size(); ++i) outcomes[i] = static_cast<model::Outcome>(i);
  return outcomes;
}

// Digits only: no sign, no space, no hex; out of [low, high] or overflowing is an error too.
std::optional<uint64_t> bounded_number(std::string_view text, uint64_t low, uint64_t high) {
  uint64_t value = 0;
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high)
    return std::nullopt;
  return value;
}

std::string in_quotes(std::string_view text) {
  return "'" + std::string(text) + "'";
}

}  // namespace

std::optional<Query> parse_query(const Params& params, std::span<const std::string_view> accepted,
                                 std::string_view route, std::string& error) {
  Query q;
  for (const auto& [name, value] : params) {
    if (std::find(accepted.begin(), accepted.end(), name) == accepted.end()) {
      std::string list;
      for (std::string_view a : accepted) list += (list.empty() ? "" : ", ") + std::string(a);
      error = fmt::format("unknown parameter {} ({} takes {})", in_quotes(name), route,
                          list.empty() ? "none" : list);
      return std::nullopt;
    }
    if (params.count(name) > 1) {
      error = fmt::format("parameter {} given {} times", in_quotes(name), params.count(name));
      return std::nullopt;
    }
    if (value.empty()) {
      error = fmt::format("parameter {} is empty", in_quotes(name));
      return std::nullopt;
    }
    if (name == "state") {
      q.state = model::parse_state(enum_key(value));
      if (!q.state) {
        error = "unknown state " + in_quotes(value) + " (use the kernel's names, e.g. CLOSE_WAIT)";
        return std::nullopt;
      }
    } else if (name == "port") {
      auto port = bounded_number(value, 1, 65535);
      if (!port) {
        error = "port must be a number 1-65535, not " + in_quotes(value);
        return std::nullopt;
      }
      q.port = static_cast<uint16_t>(*port);
    } else if (name == "limit") {
      auto limit = bounded_number(value, 1, kMaxLimit);
      if (!limit) {
        error = fmt::format("limit must be a number 1-{}, not {}", kMaxLimit, in_quotes(value));
        return std::nullopt;
      }
      q.limit = static_cast<std::size_t>(*limit);
    } else if (name == "verdict") {
      q.verdict = parse_enum(value, kVerdicts, model::verdict_name);
      if (!q.verdict) {
        error = "unknown verdict " + in_quotes(value) + " (" +
                names_of(kVerdicts, model::verdict_name) + ")";
        return std::nullopt;
      }
    } else if (name == "unit" || name == "pod" || name == "netns") {
      if (!q.owners.set(name, value, error)) return std::nullopt;
    } else if (name == "outcome") {
      q.outcome = parse_enum(value, all_outcomes(), model::outcome_name);
      if (!q.outcome) {
        error = "unknown outcome " + in_quotes(value) + " (" +
                names_of(all_outcomes(), model::outcome_name) + ")";
        return std::nullopt;
      }
    }
  }
  return q;
}

}  // namespace synfin::api
