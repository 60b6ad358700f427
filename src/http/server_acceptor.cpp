// The listener: accepting connections on context 0, round robin over the contexts, draining the
// backlog without blocking, and riding out descriptor exhaustion (EMFILE/ENFILE) without
// stopping or spinning. Admission (limits) is server_admission.cpp.

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "http/server_impl.h"

namespace recserve::http {

namespace {

bool IsDescriptorExhaustion(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

void HttpServer::Impl::Accept() {
  size_t context = next_context++ % iocs.size();
  acceptor.async_accept(*iocs[context], [this, context](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) return OnAcceptError(ec);
    SteadyTime floor = ArrivalFloorOfNewConnections();
    OnAccepted(std::move(socket), context, floor);
    DrainBacklog(floor);
    Accept();
  });
}

SteadyTime HttpServer::Impl::ArrivalFloorOfNewConnections() const {
  // A connection waiting in the backlog makes the listening socket ready, so it arrived after
  // the backlog was last seen empty, and after any moment context 0 idled with the accept armed.
  SteadyTime idle = LastIdle(0);
  return idle >= idle_counts_after ? std::max(backlog_empty_at, idle) : backlog_empty_at;
}

void HttpServer::Impl::DrainBacklog(SteadyTime floor) {
  // Bounded, so a flood of connections cannot keep context 0 from its other work.
  constexpr int kMaxBatch = 64;
  for (int i = 0; i < kMaxBatch; ++i) {
    int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Anything but "would block" (e.g. EMFILE) is met again by the armed accept, which
      // handles it in OnAcceptError.
      if (errno == EAGAIN || errno == EWOULDBLOCK) backlog_empty_at = Clock::now();
      return;
    }
    size_t context = next_context++ % iocs.size();
    tcp::socket socket(*iocs[context]);
    beast::error_code ec;
    socket.assign(acceptor.local_endpoint(ec).protocol(), fd, ec);
    if (ec) {
      ::close(fd);
      continue;
    }
    OnAccepted(std::move(socket), context, floor);
  }
}

// accept() failing must never stop the acceptor. Out of descriptors, the pending connection
// would stay in the backlog and make every retry fail at once (a busy loop), so one connection
// is taken with the reserved descriptor, told 503 and closed; when even that fails, accepting
// resumes after a short pause instead of spinning.
void HttpServer::Impl::OnAcceptError(const beast::error_code& ec) {
  SteadyTime now = Clock::now();
  if (now - last_accept_warning >= std::chrono::seconds(1)) {
    last_accept_warning = now;
    spdlog::warn("accept failed: {} ({} connection(s) open, MAX_CONNECTIONS={})", ec.message(),
                 open_connections.load(), options.max_connections);
  }
  // Anything else (e.g. a client that reset before we accepted) concerns one connection only.
  if (!IsDescriptorExhaustion(ec)) return Accept();
  bool shed = false;
  if (reserve_fd >= 0) {
    ::close(reserve_fd);
    int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      SendBusyAndClose(fd);
      ::close(fd);
      refused.WithLabels({"fd_exhausted"}).Inc();
      shed = true;
    }
    reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  if (shed && reserve_fd >= 0) return Accept();
  accept_retry_timer.expires_after(std::chrono::milliseconds(50));
  accept_retry_timer.async_wait([this](beast::error_code wait_ec) {
    if (wait_ec || !acceptor.is_open()) return;
    // Context 0 idled during the pause without an accept armed: those moments say nothing.
    idle_counts_after = Clock::now();
    Accept();
  });
}

}  // namespace recserve::http
