// The HTTP adapter over loopback (no root): what cpp-httplib decides before DaemonApi sees a
// request — methods with bodies, HEAD, percent-decoded bytes, errors of its own, gzip for a
// scraper that asks — and the exposure check behind the daemon's --listen warning.
#include "api/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <zlib.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "outputs/prometheus.h"

namespace synfin::api {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : model_({}) {
    hooks_.monotonic_now_ns = [] { return uint64_t{1}; };
    hooks_.snapshot = [] { return std::vector<model::KernelSocket>{}; };
    hooks_.resolve_owners = [](std::span<const uint64_t>) {
      return std::unordered_map<uint64_t, std::vector<model::ProcessInfo>>{};
    };
    hooks_.port_range = [] { return PortRange{}; };
    hooks_.health = [] {
      HealthInputs h;
      h.programs = {{"on_inet_sock_set_state", true}};
      return h;
    };
    hooks_.metrics = [] { return std::string("synfin_build_info 1\n"); };
    api_ = std::make_unique<DaemonApi>(model_, mutex_, hooks_, Clock{});
    server_ = std::make_unique<HttpServer>(*api_);
    auto started = server_->start({"127.0.0.1", 0});
    EXPECT_TRUE(started) << started.error().message;
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_keep_alive(true);
    c.set_read_timeout(30);
    return c;
  }

  model::DaemonModel model_;
  std::mutex mutex_;
  DaemonApiHooks hooks_;
  std::unique_ptr<DaemonApi> api_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, UnknownPathIsJson404) {
  auto c = client();
  auto r = c.Get("/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_TRUE(nlohmann::json::parse(r->body)["error"].is_string());
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllowAndTheConnectionStaysInStep) {
  auto c = client();
  for (int round = 0; round < 2; ++round) {
    auto r = c.Post("/healthz", std::string(1000, 'x'), "application/octet-stream");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
    EXPECT_TRUE(nlohmann::json::parse(r->body)["error"].is_string());
    // The body was consumed: the next request on the same connection is read as one.
    auto next = c.Get("/healthz");
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
  }
  httplib::Result others[] = {c.Delete("/api/v1/stuck"), c.Put("/metrics", "", "text/plain"),
                              c.Options("/api/v1/closed"), c.Patch("/", "{}", "application/json")};
  for (const auto& r : others) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
  }
  auto unknown = c.Delete("/nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(HttpServerTest, HeadAnswersLikeGetWithoutBody) {
  auto c = client();
  auto r = c.Head("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());
}

TEST_F(HttpServerTest, PercentDecodedBytesAreEchoedAsValidJson) {
  auto c = client();
  for (const char* target : {"/api/v1/stuck?state=%ff", "/api/v1/connections?state=%c3%28%0a",
                             "/api/v1/closed?verdict=%22%5c", "/api/v1/stuck?%ff=1"}) {
    auto r = c.Get(target);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 400) << target;
    EXPECT_TRUE(nlohmann::json::parse(r->body)["error"].is_string()) << target;
  }
}

TEST_F(HttpServerTest, ABodyTooLargeIsAJsonError) {
  auto c = client();
  auto r = c.Post("/api/v1/stuck", std::string(64 * 1024, 'x'), "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(nlohmann::json::parse(r->body)["error"].is_string());
}

TEST(HttpServerExposureTest, OnlyLoopbackAddressesCountAsPrivate) {
  model::DaemonModel model({});
  std::mutex mutex;
  DaemonApi api(model, mutex, {}, {});
  for (auto [host, loopback] :
       {std::pair{"127.0.0.1", true}, std::pair{"127.0.0.2", true}, std::pair{"::1", true},
        std::pair{"localhost", true}, std::pair{"0.0.0.0", false}, std::pair{"::", false}}) {
    HttpServer server(api);
    auto bound = server.bind({host, 0});
    ASSERT_TRUE(bound) << host << ": " << bound.error().message;
    EXPECT_EQ(server.loopback_only(), loopback) << host;
    EXPECT_GT(server.port(), 0);
  }
  auto every_interface = parse_listen_address(":9847");
  ASSERT_TRUE(every_interface);
  EXPECT_EQ(every_interface->host, "0.0.0.0");
}

// Prometheus sends `Accept-Encoding: gzip`; the exposition goes back gzip-compressed (as
// node_exporter's does), byte for byte the plain text once inflated; a client that does not
// ask gets plain text.
TEST(HttpServerCompressionTest, MetricsAnswerGzipWhenAsked) {
  model::DaemonModel model({});
  std::mutex mutex;
  DaemonApiHooks hooks;
  hooks.metrics = [&model] {
    outputs::SelfMetrics self;
    self.version = "test";
    return outputs::render_metrics(model, self);
  };
  DaemonApi api(model, mutex, hooks, {});
  HttpServer server(api);
  auto started = server.start({"127.0.0.1", 0});
  ASSERT_TRUE(started) << started.error().message;
  httplib::Client c("127.0.0.1", server.port());
  c.set_decompress(false);  // the bytes as sent

  auto plain = c.Get("/metrics");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200);
  EXPECT_FALSE(plain->has_header("Content-Encoding"));
  ASSERT_NE(plain->body.find("# TYPE synfin_tcp_sockets gauge"), std::string::npos);

  auto compressed = c.Get("/metrics", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(compressed);
  EXPECT_EQ(compressed->status, 200);
  EXPECT_EQ(compressed->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(compressed->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  const std::string& gzipped = compressed->body;
  ASSERT_GT(gzipped.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gzipped[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gzipped[1]), 0x8b);

  std::string inflated(plain->body.size() + 1, '\0');
  z_stream stream{};
  ASSERT_EQ(inflateInit2(&stream, 16 + MAX_WBITS), Z_OK);  // 16: a gzip wrapper
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzipped.data()));
  stream.avail_in = static_cast<uInt>(gzipped.size());
  stream.next_out = reinterpret_cast<Bytef*>(inflated.data());
  stream.avail_out = static_cast<uInt>(inflated.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  inflated.resize(stream.total_out);
  inflateEnd(&stream);
  EXPECT_EQ(inflated, plain->body);
  EXPECT_LT(gzipped.size() * 4, plain->body.size());
  std::printf("/metrics of an idle daemon: %zu bytes plain, %zu bytes gzip\n", plain->body.size(),
              gzipped.size());
}

}  // namespace
}  // namespace synfin::api
