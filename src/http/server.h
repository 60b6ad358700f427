#pragma once
// The HTTP/1.1 transport: Boost.Beast on Asio with a fixed pool of threads, each running its own
// io_context. Keep-alive; limits on header and body size; graceful drain on SIGTERM/SIGINT (stop
// accepting, let in-flight requests finish, then return from Run()).
//
// Abuse resistance (docs/CONFIGURATION.md, docs/METRICS.md):
// - Three deadlines per request, none of which a client can extend by trickling bytes (each is an
//   absolute time, not reset per byte): an idle connection waits at most `idle_timeout` for the
//   first byte of its next request; from that first byte the whole header must arrive within
//   `header_timeout` (slowloris) and the whole request within `read_timeout`. A response must be
//   written within `read_timeout`. Passing any of them closes the connection, counted in
//   recommendation_connections_timed_out_total{phase}.
// - At most `max_connections` connections are open; one more gets a 503 with Retry-After and is
//   closed at once, so the process never runs out of file descriptors because of clients. When
//   accept() still fails for lack of descriptors (EMFILE/ENFILE, e.g. a limit set below
//   max_connections) the acceptor sheds that connection through a reserved descriptor and keeps
//   accepting; it never stops or spins.
// - At most `max_connections_per_client` of those from one client address (0: no per-client
//   cap); one more gets the same 503. Behind a load balancer every connection comes from the
//   balancer: set it to 0 there, or above the balancer's pool size.
// - Memory for request bodies is budgeted: the bodies being received at once may announce at
//   most `max_body_bytes_in_flight` bytes together (a chunked body counts as max_body_bytes).
//   A request that would pass the budget is answered 503 with Retry-After before its body is
//   read, and the connection closes.
// - Header too large: 431; body too large: 413; malformed: 400. The connection closes after the
//   answer.
// - No exception escapes: one thrown by the handler is answered 500 and counted in
//   recommendation_handler_exceptions_total (the handler has its own boundary; this one is the
//   last line), one thrown on an event loop is logged and the loop goes on.
//
// Handlers run on the I/O threads and must not block for long; RequestTiming tells a handler how
// long its request may have waited for the thread (the basis of load shedding in LoadShedder).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http.hpp>

#include "core/status.h"
#include "observe/metrics.h"

namespace recserve::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using RequestHeader = boost::beast::http::request_header<>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using SteadyTime = std::chrono::steady_clock::time_point;

// A response plus what the request metrics need to know about it.
struct Reply {
  Response response;
  // Route template ("/recommendations/{user_id}") or "unmatched"; must point to storage that
  // outlives the server (route table or a string literal).
  std::string_view endpoint;
  std::string_view variant = "primary";  // same lifetime rule as `endpoint`
};

// When a request reached the server, as far as the transport can tell.
//
// `arrived` is the latest instant at which the complete request is known not to have been there
// yet: the later of (a) the end of the previous response on this connection (for a new
// connection: the last moment the listen backlog was seen empty, or the acceptor's thread idled
// with an accept armed), and (b) the last moment the
// connection's I/O thread found nothing to do while this connection was waiting for the request.
// While a thread is busy (e.g. a handler waiting for the ranker), complete requests queue unseen
// in socket buffers; queue_wait() bounds that wait from above. An idle server measures
// microseconds; a thread stuck for 300 ms measures about 300 ms for the requests behind it.
// Time a slow client spends sending its request is not counted (the read deadlines cover it).
// Known overestimate: on a thread that never runs out of work for a long time, a request on a
// connection that was quiet all that while is charged the whole busy period (back to its
// previous response); such a thread is saturated, so shedding there is not wrong, only unfair.
struct RequestTiming {
  SteadyTime arrived;
  SteadyTime handler_start;
  // Who sent it: the peer's IP address as text (audit lines, per-client limits). Points into
  // the connection; valid while the handler runs.
  std::string_view peer_address;
  std::chrono::steady_clock::duration queue_wait() const { return handler_start - arrived; }
};

// What the server asks of the application. Implementations must be thread-safe.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Answers one complete request.
  virtual Reply Handle(Request& request, const RequestTiming& timing) = 0;
  // Answers a request the transport rejected before it was complete (body too large, header
  // too large, malformed) with `http_status` (413, 431 or 400) and `status` as the reason.
  // `header` holds whatever was parsed; the connection closes afterwards.
  virtual Reply Reject(const RequestHeader& header, const Status& status, unsigned http_status) = 0;
  // Called once `reply` was written (or failed to be written): `handling_seconds` from the
  // handler's start, `total_seconds` from RequestTiming::arrived.
  virtual void Completed(const Reply& reply, double handling_seconds, double total_seconds) = 0;
  // Requests being handled now changed by `delta` (+1 read complete, -1 written).
  virtual void InFlight(int delta) = 0;
};

struct ServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8080;  // 0 picks a free port (see HttpServer::port())
  int threads = 2;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  // Whole request (header + body) from its first byte; also the limit for writing a response.
  std::chrono::milliseconds read_timeout{30000};
  // Request line + headers from the request's first byte (slowloris).
  std::chrono::milliseconds header_timeout{10000};
  // A connection between requests (and a new one before its first byte).
  std::chrono::milliseconds idle_timeout{60000};
  // Open client connections; one more is answered 503 and closed.
  size_t max_connections = 10000;
  // Open connections from one client address; 0: no per-client cap.
  size_t max_connections_per_client = 0;
  // Bytes of request bodies being received at once, over all connections.
  size_t max_body_bytes_in_flight = 64 * 1024 * 1024;
  std::chrono::milliseconds drain_timeout{30000};
};

// The descriptor limit of this process (RLIMIT_NOFILE soft limit) minus a reserve of 256 for
// files, Redis, SQLite and logs, at least 16 and at most 16384 (containers often allow ~1M
// descriptors; each idle connection costs a few KiB, a 16 KiB header up to ~20 KiB, so 16384 of
// them stay within ~330 MiB). The default of MAX_CONNECTIONS.
size_t DefaultMaxConnections();

// recommendation_handler_exceptions_total: one family for the handler's exception boundary and
// the server's last-line one.
observe::Counter& HandlerExceptionsCounter(observe::Registry& registry);

class HttpServer {
 public:
  // `handler` and `registry` must outlive the server. Transport metrics (open connections,
  // refused connections, timeouts by phase) are registered in `registry`.
  HttpServer(ServerOptions options, RequestHandler& handler, observe::Registry& registry);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. Unavailable naming the address when the port cannot be bound.
  Status Listen();
  // Serves until SIGTERM/SIGINT (or Shutdown()), then drains: no new connections, in-flight
  // requests finish (up to drain_timeout), keep-alive connections close. Blocks the caller, who
  // counts as one of the threads.
  void Run();
  // Starts the drain from any thread.
  void Shutdown();
  uint16_t port() const;

  struct Impl;  // implementation detail (http/server_impl.h), shared by the server_*.cpp files

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace recserve::http
