#include "api/http_server.h"
#include "common/thread_priority.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <list>
#include <mutex>
#include <vector>

#include <fmt/format.h>

namespace synfin::api {

Result<ListenAddress> parse_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return Error{fmt::format("--listen '{}' is not ADDR:PORT (e.g. 127.0.0.1:9847)", text)};
  ListenAddress address;
  address.host = text.substr(0, colon);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']')
    address.host = address.host.substr(1, address.host.size() - 2);
  if (address.host.empty()) address.host = "0.0.0.0";
  std::string port = text.substr(colon + 1);
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (error != std::errc() || end != port.data() + port.size() || address.port < 1 ||
      address.port > 65535)
    return Error{fmt::format("--listen '{}': port must be 1-65535", text)};
  return address;
}

// cpp-httplib's server with its listening socket in reach, for what its API leaves out: the
// listen backlog (Debian's compiled library has 5 built in) and the address actually bound.
class ListeningServer final : public httplib::Server {
 public:
  int listening_socket() const { return svr_sock_; }
};

// The /api/v1 answers are computed by a few threads of their own at a lower CPU priority
// (nice 10), first come first served: however many clients ask at once, only this many
// answers are under way, and a health probe or a scrape, answered by the connection threads
// at normal priority, gets the CPU first.
class BackgroundComputations {
 public:
  explicit BackgroundComputations(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~BackgroundComputations() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_) thread.join();
  }
  BackgroundComputations(const BackgroundComputations&) = delete;
  BackgroundComputations& operator=(const BackgroundComputations&) = delete;

  // Runs `work` on one of the threads; waits for it (its exception, if any, comes back).
  HttpAnswer compute(std::function<HttpAnswer()> work) {
    std::packaged_task<HttpAnswer()> task(std::move(work));
    auto answer = task.get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(task));
    }
    wake_.notify_one();
    return answer.get();
  }

 private:
  void run() {
    lower_this_thread_to_nice(10);
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      auto task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<HttpAnswer()>> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

namespace {
constexpr auto kIdleWorkerLifetime = std::chrono::seconds(30);
constexpr std::size_t kMaxRequestBody = 8 * 1024;  // no route takes a body

// A thread per connection, created when no idle one is waiting, up to a cap; idle ones end
// after a while. cpp-httplib's own pool has a fixed 8 threads that each stay with one
// kept-alive connection, so the ninth client (or a health probe) waited for one to hang up.
class WorkerPool final : public httplib::TaskQueue {
 public:
  explicit WorkerPool(std::size_t max_workers) : max_workers_(max_workers) {}
  ~WorkerPool() override { shutdown(); }

  void enqueue(std::function<void()> job) override {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
    join_finished();
    if (idle_ < jobs_.size() && workers_.size() < max_workers_) {
      workers_.emplace_back();
      auto self = std::prev(workers_.end());
      *self = std::thread([this, self] { work(self); });  // it waits for mutex_ first
    } else {
      wake_.notify_one();
    }
  }

  void shutdown() override {
    std::list<std::thread> running;
    {
      std::lock_guard lock(mutex_);
      if (shut_down_) return;
      shut_down_ = true;
      running.swap(workers_);
      join_finished();
    }
    wake_.notify_all();
    for (auto& worker : running) worker.join();
  }

 private:
  using Worker = std::list<std::thread>::iterator;

  void work(Worker self) {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      bool woken = wake_.wait_for(lock, kIdleWorkerLifetime,
                                  [this] { return !jobs_.empty() || shut_down_; });
      --idle_;
      if (jobs_.empty()) {
        // Idle too long: handed to the next enqueue() to join (a thread cannot join itself).
        if (!woken && !shut_down_) {
          finished_.push_back(std::move(*self));
          workers_.erase(self);
        }
        if (!woken || shut_down_) return;
        continue;
      }
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  void join_finished() {  // caller holds mutex_; these threads have left work() or are leaving
    for (auto& worker : finished_) worker.join();
    finished_.clear();
  }

  const std::size_t max_workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  std::list<std::thread> workers_;
  std::vector<std::thread> finished_;
  std::size_t idle_ = 0;
  bool shut_down_ = false;
};

DaemonApi::Params params_of(const httplib::Request& request) {
  return {request.params.begin(), request.params.end()};
}

void send(httplib::Response& response, const HttpAnswer& answer) {
  response.status = answer.status;
  if (!answer.allow.empty()) response.set_header("Allow", answer.allow);
  response.set_content(answer.body, answer.content_type);
}

// cpp-httplib's own refusals, before any route saw the request.
std::string what_went_wrong(int status) {
  switch (status) {
    case 400:
      return "malformed request";
    case 413:
      return "request body too large (no endpoint takes a body)";
    case 414:
      return "request target too long";
    case 416:
      return "unsatisfiable range";
    default:
      return fmt::format("HTTP status {}", status);
  }
}

bool is_loopback(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}
}  // namespace

HttpServer::HttpServer(DaemonApi& api) : api_(api), server_(std::make_unique<ListeningServer>()) {}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::bind(const ListenAddress& address) {
  auto& s = *server_;
  // One handler for every GET/HEAD (cpp-httplib routes HEAD to GET handlers and drops the
  // body); DaemonApi::handle decides 404, 405 and 400.
  s.Get(".*", [this](const httplib::Request& request, httplib::Response& response) {
    auto answer = [&] { return api_.handle(request.method, request.path, params_of(request)); };
    send(response, request.path.rfind("/api/", 0) == 0 ? computations_->compute(answer) : answer());
  });
  // Other methods reach no handler: cpp-httplib has read their body by now (so a kept-alive
  // connection stays in step) and answers 404, turned here into DaemonApi's 405 or 404.
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& request, httplib::Response& response) {
        if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (response.status == 404 && !request.method.empty()) {
          send(response, api_.handle(request.method, request.path, params_of(request)));
        } else {
          response.set_content(error_body(what_went_wrong(response.status)), "application/json");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr thrown) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(thrown);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        response.status = 500;
        response.set_content(error_body("internal error: " + what), "application/json");
      });
  s.new_task_queue = [] { return new WorkerPool(kMaxWorkers); };
  s.set_tcp_nodelay(true);  // else a kept-alive client's next answer waits ~40 ms for an ACK
  s.set_keep_alive_max_count(100);
  s.set_payload_max_length(kMaxRequestBody);
  // httplib's default adds SO_REUSEPORT, which would let a second daemon share the port
  // silently; a busy port must be an error.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  bool bound = address.port == 0 ? s.bind_to_any_port(address.host) > 0
                                 : s.bind_to_port(address.host, address.port);
  if (!bound)
    return Error{fmt::format("cannot listen on {}:{} (in use, or not an address of this host)",
                             address.host, address.port)};
  int fd = s.listening_socket();
  ::listen(fd, SOMAXCONN);  // listening already: this only raises the backlog
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
    loopback_only_ = is_loopback(local);
    port_ =
        ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(local).sin6_port
                                          : reinterpret_cast<const sockaddr_in&>(local).sin_port);
  }
  return Ok{};
}

void HttpServer::serve(std::optional<int> thread_nice) {
  computations_ =
      std::make_unique<BackgroundComputations>(std::max(2u, std::thread::hardware_concurrency()));
  thread_ = std::thread([this, thread_nice] {
    // Connection threads are created from this one and inherit its priority.
    if (thread_nice) set_this_thread_nice(*thread_nice);
    server_->listen_after_bind();
  });
}

Status HttpServer::start(const ListenAddress& address) {
  if (auto bound = bind(address); !bound) return bound;
  serve();
  return Ok{};
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
  computations_.reset();  // after the connection threads that wait for them
}

}  // namespace synfin::api
