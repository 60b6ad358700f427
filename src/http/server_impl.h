#pragma once
// HttpServer::Impl: what the parts of the transport share (options, metrics, the io_contexts and
// their idle marks, the acceptor, the admission counters), and the part each file implements:
//   server.cpp            construction, the event loops, Run/Shutdown and the drain
//   server_acceptor.cpp   accepting connections: backlog draining, descriptor exhaustion
//   server_admission.cpp  connection and body-budget limits, the 503 a refused client reads
//   server_session.cpp    one connection: read, answer, write, its deadlines
// Internal to src/http; http/server.h is the interface and states the behaviour.

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/thread_annotations.h"
#include "http/server.h"
#include "observe/metrics.h"

namespace recserve::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// What a connection over MAX_CONNECTIONS (or one shed for lack of descriptors) receives before
// it is closed: written with one non-blocking send, so refusing never waits on the client.
inline constexpr std::string_view kBusyResponse =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "Content-Length: 77\r\n"
    "\r\n"
    R"({"error":"unavailable","message":"too many open connections","reason":"busy"})";
static_assert(kBusyResponse.size() - kBusyResponse.find("\r\n\r\n") - 4 == 77);
inline constexpr std::string_view kClientBusyResponse =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "Content-Length: 94\r\n"
    "\r\n"
    R"({"error":"unavailable","message":"too many open connections from this client","reason":"busy"})";
static_assert(kClientBusyResponse.size() - kClientBusyResponse.find("\r\n\r\n") - 4 == 94);

// Writes `response` (kBusyResponse by default) without blocking, then closes: the client reads a
// reason instead of a bare reset (best effort: a client that already sent a request may see a
// reset instead). Defined in server_admission.cpp.
void SendBusyAndClose(int fd, std::string_view response = kBusyResponse);

struct HttpServer::Impl {
  Impl(ServerOptions o, RequestHandler& h, observe::Registry& registry);
  ~Impl();

  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n);

  void Accept();
  // Counts a connection from `address` unless it has max_connections_per_client open already.
  bool AdmitClient(const std::string& address);
  void ReleaseClient(const std::string& address);
  // Reserves `bytes` of the body budget; false (nothing reserved) when it would pass it.
  bool ReserveBody(size_t bytes);
  void ReleaseBody(size_t bytes) { body_bytes_in_flight.fetch_sub(bytes); }

  // RequestTiming::arrived floor for connections accepted now (context 0 only).
  SteadyTime ArrivalFloorOfNewConnections() const;
  // Accepts, without blocking, connections still waiting in the backlog.
  void DrainBacklog(SteadyTime floor);
  void OnAccepted(tcp::socket socket, size_t context, SteadyTime arrival_floor);
  void OnAcceptError(const beast::error_code& ec);
  void StartDrain();
  void PollDrain();
  // Runs context `index` on the calling thread until it stops, recording each moment it finds
  // nothing to do (see RequestTiming).
  void RunContext(size_t index);

  void MarkIdle(size_t context) {
    last_idle[context].store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
  SteadyTime LastIdle(size_t context) const {
    return SteadyTime(Clock::duration(last_idle[context].load(std::memory_order_relaxed)));
  }

  ServerOptions options;
  RequestHandler& handler;
  // Declared before the io_contexts: sessions still owned by pending handlers touch these when
  // the contexts destroy them.
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
  std::atomic<size_t> open_connections{0};
  observe::Gauge& open_connections_gauge;
  observe::Family<observe::Counter>& refused;
  observe::Family<observe::Counter>& timed_out;
  observe::Counter& body_budget_refused;
  observe::Counter& loop_exceptions;
  observe::Counter& handler_exceptions;
  std::atomic<size_t> body_bytes_in_flight{0};
  core::Mutex clients_mu;
  std::unordered_map<std::string, size_t> connections_per_client GUARDED_BY(clients_mu);
  // One io_context per thread; a connection lives on one of them (round robin), so its
  // handlers never run concurrently and need no strand, and threads do not hand work to each
  // other. The acceptor, signals and timers below live on context 0.
  std::vector<std::unique_ptr<asio::io_context>> iocs;
  std::unique_ptr<std::atomic<Clock::rep>[]> last_idle;  // per context, written by its thread
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  size_t next_context = 0;  // touched only on context 0 (accept handler)
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer drain_timer;
  asio::steady_timer accept_retry_timer;
  SteadyTime backlog_empty_at{};     // context 0 only: accept4() last found no connection
  SteadyTime idle_counts_after{};    // context 0 only: idle marks before this are not floors
  SteadyTime last_accept_warning{};  // context 0 only
  int reserve_fd = -1;               // context 0 only; given up to shed one connection on EMFILE
  std::chrono::steady_clock::time_point drain_deadline;
};

// Serves one admitted connection on context `context` until it closes (server_session.cpp).
// `arrival_floor`: no byte of the first request can have arrived before it. `peer` was admitted
// by AdmitClient; the session releases it.
void StartSession(tcp::socket socket, HttpServer::Impl& server, size_t context,
                  SteadyTime arrival_floor, std::string peer);

}  // namespace recserve::http
