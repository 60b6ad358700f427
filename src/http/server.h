#pragma once
// The HTTP/1.1 transport: Boost.Beast on Asio with a fixed pool of threads running one
// io_context. Keep-alive; limits on header and body size; a read timeout per request (a client
// that does not send a full request in time is disconnected, so slow clients cannot hold
// threads); graceful drain on SIGTERM/SIGINT (stop accepting, let in-flight requests finish,
// then return from Run()).
//
// Handlers run on the I/O threads and must not block for long (engine calls are in-memory).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http.hpp>

#include "core/status.h"

namespace recserve::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using RequestHeader = boost::beast::http::request_header<>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// A response plus what the request metrics need to know about it.
struct Reply {
  Response response;
  // Route template ("/recommendations/{user_id}") or "unmatched"; must point to storage that
  // outlives the server (route table or a string literal).
  std::string_view endpoint;
  std::string_view variant = "primary";  // same lifetime rule as `endpoint`
};

// What the server asks of the application. Implementations must be thread-safe.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Answers one complete request.
  virtual Reply Handle(Request& request) = 0;
  // Answers a request the transport rejected before it was complete (body too large, header
  // too large, malformed). `header` holds whatever was parsed; the connection closes afterwards.
  virtual Reply Reject(const RequestHeader& header, const Status& status) = 0;
  // Called once `reply` was written (or failed to be written), with the time from request read
  // to response written.
  virtual void Completed(const Reply& reply, double seconds) = 0;
  // Requests being handled now changed by `delta` (+1 read complete, -1 written).
  virtual void InFlight(int delta) = 0;
};

struct ServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8080;  // 0 picks a free port (see HttpServer::port())
  int threads = 2;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds drain_timeout{30000};
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, RequestHandler& handler);
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

  struct Impl;  // implementation detail, public only for the session class in server.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace recserve::http
