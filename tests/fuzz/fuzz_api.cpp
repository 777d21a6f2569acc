// Fuzz target: the daemon's API — query parsing and JSON rendering. A model is built from
// fuzzed kernel records and a fuzzed socket-table snapshot, owners come with fuzzed names and
// cgroups, and a fuzzed request (method, path, query) is answered. Every answer must carry a
// status the API documents and, unless it is the exposition or the index, strict JSON; names
// must render exactly as nlohmann::json renders them (trace lines and API agree).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/daemon_api.h"
#include "decode/decoder.h"
#include "fuzz_input.h"
#include "model/daemon_model.h"
#include "outputs/json_lines.h"
#include "outputs/prometheus.h"
#include "synfin/abi.h"

namespace {
using namespace synfin;

// "a=1&b&=c" as a query string: what cpp-httplib hands over after percent-decoding.
api::DaemonApi::Params parse_query(const std::string& query) {
  api::DaemonApi::Params params;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(start, end - start);
    std::size_t equals = pair.find('=');
    if (!pair.empty())
      params.emplace(pair.substr(0, equals),
                     equals == std::string::npos ? "" : pair.substr(equals + 1));
    start = end + 1;
  }
  return params;
}

void check_json_string_agrees(const std::string& bytes) {
  fmt::memory_buffer ours;
  outputs::append_json_string(ours, bytes);
  std::string theirs =
      nlohmann::json(bytes).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (std::string_view(ours.data(), ours.size()) != theirs) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  fuzz::FuzzInput input(data, size);
  static const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
  static const char* kPaths[] = {"/",
                                 "/metrics",
                                 "/healthz",
                                 "/api/v1/connections",
                                 "/api/v1/stuck",
                                 "/api/v1/timewait",
                                 "/api/v1/closed"};
  std::string method = kMethods[input.integer<uint8_t>() % std::size(kMethods)];
  uint8_t path_choice = input.integer<uint8_t>();
  std::string path =
      path_choice < 224 ? kPaths[path_choice % std::size(kPaths)] : input.short_string();
  auto params = parse_query(input.short_string());
  std::string proc_name = input.short_string(64);
  std::string proc_cgroup = input.short_string(64);
  check_json_string_agrees(proc_name);

  model::DaemonModelConfig config;
  config.max_connections = 1 + input.integer<uint8_t>() % 32;
  config.recent_closes = 1 + input.integer<uint8_t>() % 16;
  model::DaemonModel model(config);
  std::vector<model::KernelSocket> kernel;
  for (int i = input.integer<uint8_t>() % 8;
       i > 0 && input.remaining() >= sizeof(synfin_socket_record); --i) {
    synfin_socket_record raw;
    std::string bytes = input.bytes(sizeof(raw));
    std::memcpy(&raw, bytes.data(), sizeof(raw));
    if (auto socket = decode::decode_socket_record(raw)) kernel.push_back(*socket);
  }
  uint64_t now = input.integer<uint32_t>();
  model.seed(kernel, now);
  decode::Decoder decoder;
  while (input.remaining() >= sizeof(synfin_event)) {
    std::string record = input.bytes(sizeof(synfin_event));
    if (auto event = decoder.decode(std::as_bytes(std::span(record)))) model.apply(*event);
  }
  now += input.integer<uint32_t>() * 1000ull;
  model.reconcile(kernel, now, now);
  model.tick(now);

  std::mutex mutex;
  api::DaemonApiHooks hooks;
  hooks.monotonic_now_ns = [&] { return now; };
  hooks.snapshot = [&] { return kernel; };
  hooks.resolve_owners = [&](std::span<const uint64_t> inodes) {
    std::unordered_map<uint64_t, std::vector<model::ProcessInfo>> owners;
    for (uint64_t inode : inodes)
      if (inode % 2) owners[inode] = {{static_cast<uint32_t>(inode), proc_name, proc_cgroup}};
    return owners;
  };
  hooks.port_range = [] { return api::PortRange{}; };
  hooks.health = [] {
    api::HealthInputs h;
    h.programs = {{"on_inet_sock_set_state", true}};
    return h;
  };
  hooks.metrics = [&] { return outputs::render_metrics(model, {}); };
  api::DaemonApi api(model, mutex, hooks, {});

  api::HttpAnswer answer = api.handle(method, path, params);
  bool documented =
      answer.status == 200 || answer.status == 400 || answer.status == 404 || answer.status == 405;
  if (!documented || (answer.status == 405) != !answer.allow.empty()) __builtin_trap();
  if (answer.content_type == "application/json") {
    auto body = nlohmann::json::parse(answer.body);  // throws on anything but strict JSON
    if (!body.is_object() || (answer.status != 200 && !body["error"].is_string())) __builtin_trap();
  }
  return 0;
}
