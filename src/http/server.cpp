#include "http/server.h"

// The server's life: construction of the shared state (server_impl.h), the event loop of each
// I/O thread, Listen/Run/Shutdown and the drain. Accepting, admission and sessions live in
// server_acceptor.cpp, server_admission.cpp and server_session.cpp.

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <csignal>
#include <thread>
#include <vector>

#include "http/server_impl.h"

namespace recserve::http {

observe::Counter& HandlerExceptionsCounter(observe::Registry& registry) {
  return registry
      .AddCounter("recommendation_handler_exceptions_total",
                  "Requests whose handler threw; each was answered 500 and the replica kept "
                  "serving.")
      .Get();
}

HttpServer::Impl::Impl(ServerOptions o, RequestHandler& h, observe::Registry& registry)
    : options(std::move(o)),
      handler(h),
      open_connections_gauge(
          registry
              .AddGauge("recommendation_open_connections",
                        "Client connections open now (MAX_CONNECTIONS caps them).")
              .Get()),
      refused(registry.AddCounter(
          "recommendation_connections_refused_total",
          "Connections answered 503 and closed at accept: over MAX_CONNECTIONS, or no file "
          "descriptor left.",
          {"reason"})),
      timed_out(registry.AddCounter(
          "recommendation_connections_timed_out_total",
          "Connections closed because a transport deadline passed, by phase: idle, header, "
          "request, write.",
          {"phase"})),
      body_budget_refused(
          registry
              .AddCounter("recommendation_body_budget_refused_total",
                          "Requests answered 503 before their body was read: the bodies in "
                          "flight would have passed MAX_BODY_BYTES_IN_FLIGHT.")
              .Get()),
      loop_exceptions(registry
                          .AddCounter("recommendation_event_loop_exceptions_total",
                                      "Exceptions caught on an I/O thread's event loop (logged; "
                                      "the loop went on).")
                          .Get()),
      handler_exceptions(HandlerExceptionsCounter(registry)),
      iocs(MakeContexts(std::max(1, options.threads))),
      last_idle(std::make_unique<std::atomic<Clock::rep>[]>(iocs.size())),
      acceptor(*iocs[0]),
      signals(*iocs[0], SIGTERM, SIGINT),
      drain_timer(*iocs[0]),
      accept_retry_timer(*iocs[0]) {
  for (auto& ioc : iocs) work.push_back(asio::make_work_guard(*ioc));
  for (size_t i = 0; i < iocs.size(); ++i) MarkIdle(i);
  reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (const char* reason : {"max_connections", "max_connections_per_client", "fd_exhausted"}) {
    refused.WithLabels({reason});
  }
  for (const char* phase : {"idle", "header", "request", "write"}) timed_out.WithLabels({phase});
}

HttpServer::Impl::~Impl() {
  if (reserve_fd >= 0) ::close(reserve_fd);
}

std::vector<std::unique_ptr<asio::io_context>> HttpServer::Impl::MakeContexts(int n) {
  std::vector<std::unique_ptr<asio::io_context>> out;
  // Concurrency hint 1: each context is run by exactly one thread, so Asio can skip locking.
  for (int i = 0; i < n; ++i) out.push_back(std::make_unique<asio::io_context>(1));
  return out;
}

void HttpServer::Impl::StartDrain() {
  if (draining.exchange(true)) return;
  spdlog::info("draining: no new connections; waiting for {} in-flight request(s)",
               in_flight.load());
  beast::error_code ignored;
  acceptor.close(ignored);
  signals.cancel(ignored);
  accept_retry_timer.cancel();
  drain_deadline = std::chrono::steady_clock::now() + options.drain_timeout;
  PollDrain();
}

void HttpServer::Impl::PollDrain() {
  if (in_flight.load() == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
    if (in_flight.load() != 0) {
      spdlog::warn("drain timeout: {} request(s) still in flight", in_flight.load());
    }
    for (auto& guard : work) guard.reset();
    for (auto& ioc : iocs) ioc->stop();
    return;
  }
  drain_timer.expires_after(std::chrono::milliseconds(10));
  drain_timer.async_wait([this](beast::error_code) { PollDrain(); });
}

void HttpServer::Impl::RunContext(size_t index) {
  // How long the thread sleeps between idle marks. A request arriving while the thread sleeps
  // is woken for at once, but its RequestTiming::arrived can be up to this much too early.
  constexpr auto kIdleTick = std::chrono::milliseconds(5);
  asio::io_context& ioc = *iocs[index];
  for (;;) {
    try {
      // poll_one() runs one ready handler without blocking; 0 means nothing was ready, i.e.
      // every connection waiting on this thread had no bytes at this moment.
      if (ioc.poll_one() > 0) continue;
      MarkIdle(index);
      if (ioc.run_one_for(kIdleTick) == 0 && ioc.stopped()) break;
    } catch (const std::exception& e) {
      // The handler that threw lost its operation (its connection closes when the session's
      // last reference goes); the loop and every other connection on it go on.
      loop_exceptions.Inc();
      spdlog::error("I/O thread {}: exception on the event loop: {}", index, e.what());
    } catch (...) {
      loop_exceptions.Inc();
      spdlog::error("I/O thread {}: non-standard exception on the event loop", index);
    }
  }
}

HttpServer::HttpServer(ServerOptions options, RequestHandler& handler, observe::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(options), handler, registry)) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.address, ec);
  if (ec) return InvalidArgument("bad listen address '" + impl_->options.address + "'");
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  // Non-blocking, so the descriptor-exhaustion path can call accept4() without ever waiting.
  if (!ec) acceptor.non_blocking(true, ec);
  if (ec) {
    return Unavailable("cannot listen on " + impl_->options.address + ":" +
                       std::to_string(impl_->options.port) + ": " + ec.message());
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      impl_->options.max_connections + 64 > limit.rlim_cur) {
    spdlog::warn(
        "MAX_CONNECTIONS={} is close to or above the descriptor limit {} (ulimit -n): "
        "connections beyond the limit get 503 through the reserved descriptor",
        impl_->options.max_connections, limit.rlim_cur);
  }
  return Status::Ok();
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void HttpServer::Shutdown() {
  // On context 0: the drain closes the acceptor, which only that context's thread touches.
  asio::post(impl_->acceptor.get_executor(), [impl = impl_.get()] { impl->StartDrain(); });
}

void HttpServer::Run() {
  // A peer that vanishes (a client, or Redis behind a cache call) must cost one EPIPE on that
  // write, not the process: SIGPIPE's default action would kill the server.
  std::signal(SIGPIPE, SIG_IGN);
  Impl& impl = *impl_;
  impl.signals.async_wait([&impl](beast::error_code ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received", signal);
    asio::post(impl.acceptor.get_executor(), [&impl] { impl.StartDrain(); });
  });
  impl.Accept();
  std::vector<std::thread> threads;
  for (size_t i = 1; i < impl.iocs.size(); ++i) {
    threads.emplace_back([&impl, i] { impl.RunContext(i); });
  }
  impl.RunContext(0);
  for (auto& t : threads) t.join();
  spdlog::info("drained; server stopped");
}

}  // namespace recserve::http
