// Connection admission and request limits: MAX_CONNECTIONS and MAX_CONNECTIONS_PER_CLIENT at
// accept (a refused connection reads kBusyResponse and is closed), and the budget of request
// bodies received at once (MAX_BODY_BYTES_IN_FLIGHT). http/server.h states the behaviour.

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>

#include "http/server_impl.h"

namespace recserve::http {

void SendBusyAndClose(int fd, std::string_view response) {
  (void)::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_RDWR);
}

size_t DefaultMaxConnections() {
  constexpr rlim_t kReserve = 256;
  constexpr rlim_t kCeiling = 16384;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 10000;
  return static_cast<size_t>(std::min<rlim_t>(
      kCeiling,
      std::max<rlim_t>(16, limit.rlim_cur > kReserve + 16 ? limit.rlim_cur - kReserve : 16)));
}

bool HttpServer::Impl::AdmitClient(const std::string& address) {
  if (options.max_connections_per_client == 0) return true;
  core::MutexLock lock(clients_mu);
  size_t& open = connections_per_client[address];
  if (open >= options.max_connections_per_client) return false;  // open >= 1: the entry stays
  ++open;
  return true;
}

void HttpServer::Impl::ReleaseClient(const std::string& address) {
  if (options.max_connections_per_client == 0) return;
  core::MutexLock lock(clients_mu);
  auto it = connections_per_client.find(address);
  if (it == connections_per_client.end()) return;
  if (--it->second == 0) connections_per_client.erase(it);
}

bool HttpServer::Impl::ReserveBody(size_t bytes) {
  size_t current = body_bytes_in_flight.load();
  do {
    if (current + bytes > options.max_body_bytes_in_flight) return false;
  } while (!body_bytes_in_flight.compare_exchange_weak(current, current + bytes));
  return true;
}

void HttpServer::Impl::OnAccepted(tcp::socket socket, size_t context, SteadyTime arrival_floor) {
  if (open_connections.load() >= options.max_connections) {
    refused.WithLabels({"max_connections"}).Inc();
    SendBusyAndClose(socket.native_handle());
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  beast::error_code ignored;
  std::string peer = socket.remote_endpoint(ignored).address().to_string();
  if (!AdmitClient(peer)) {
    refused.WithLabels({"max_connections_per_client"}).Inc();
    SendBusyAndClose(socket.native_handle(), kClientBusyResponse);
    socket.close(ignored);
    return;
  }
  socket.set_option(tcp::no_delay(true), ignored);
  StartSession(std::move(socket), *this, context, arrival_floor, std::move(peer));
}

}  // namespace recserve::http
