#include "http/server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace recserve::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// What a connection over MAX_CONNECTIONS (or one shed for lack of descriptors) receives before
// it is closed: written with one non-blocking send, so refusing never waits on the client.
constexpr std::string_view kBusyResponse =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "Content-Length: 77\r\n"
    "\r\n"
    R"({"error":"unavailable","message":"too many open connections","reason":"busy"})";
static_assert(kBusyResponse.size() - kBusyResponse.find("\r\n\r\n") - 4 == 77);
constexpr std::string_view kClientBusyResponse =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "Content-Length: 94\r\n"
    "\r\n"
    R"({"error":"unavailable","message":"too many open connections from this client","reason":"busy"})";
static_assert(kClientBusyResponse.size() - kClientBusyResponse.find("\r\n\r\n") - 4 == 94);

// Bytes asked for when waiting for the first byte of a request; the parser reads the rest.
constexpr size_t kFirstReadBytes = 1024;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Writes kBusyResponse without blocking, then closes: the client reads a reason instead of a
// bare reset (best effort: a client that already sent a request may see a reset instead).
void SendBusyAndClose(int fd, std::string_view response = kBusyResponse) {
  (void)::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_RDWR);
}

bool IsDescriptorExhaustion(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

observe::Counter& HandlerExceptionsCounter(observe::Registry& registry) {
  return registry
      .AddCounter("recommendation_handler_exceptions_total",
                  "Requests whose handler threw; each was answered 500 and the replica kept "
                  "serving.")
      .Get();
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

struct HttpServer::Impl {
  Impl(ServerOptions o, RequestHandler& h, observe::Registry& registry)
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

  ~Impl() {
    if (reserve_fd >= 0) ::close(reserve_fd);
  }

  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    // Concurrency hint 1: each context is run by exactly one thread, so Asio can skip locking.
    for (int i = 0; i < n; ++i) out.push_back(std::make_unique<asio::io_context>(1));
    return out;
  }

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
  std::mutex clients_mu;
  std::unordered_map<std::string, size_t> connections_per_client;  // guarded by clients_mu
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

bool HttpServer::Impl::AdmitClient(const std::string& address) {
  if (options.max_connections_per_client == 0) return true;
  std::lock_guard lock(clients_mu);
  size_t& open = connections_per_client[address];
  if (open >= options.max_connections_per_client) return false;  // open >= 1: the entry stays
  ++open;
  return true;
}

void HttpServer::Impl::ReleaseClient(const std::string& address) {
  if (options.max_connections_per_client == 0) return;
  std::lock_guard lock(clients_mu);
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

namespace {

// One connection: wait for a request, read it, answer it, repeat while keep-alive. Owned by the
// pending asynchronous operation (shared_from_this); freed when the connection closes.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // `arrival_floor`: no byte of the first request can have arrived before it.
  // `peer` was admitted by AdmitClient; the session releases it.
  Session(tcp::socket&& socket, HttpServer::Impl& server, size_t context, SteadyTime arrival_floor,
          std::string peer)
      : stream_(std::move(socket)),
        server_(server),
        context_(context),
        arrival_floor_(arrival_floor),
        request_arrived_(arrival_floor),
        peer_(std::move(peer)) {
    server_.open_connections.fetch_add(1);
    server_.open_connections_gauge.Add(1);
  }

  ~Session() {
    ReleaseBody();
    server_.ReleaseClient(peer_);
    server_.open_connections_gauge.Add(-1);
    server_.open_connections.fetch_sub(1);
  }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  enum class Phase { kIdle, kHeader, kBody, kWrite };

  // Waits for the next request: first for its first byte (idle_timeout), then for its header.
  void Read() {
    if (server_.draining.load()) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    waiting_since_ = Clock::now();
    // A pipelined request is already buffered: it may have been complete before the previous
    // response was written, but not before the previous request was.
    if (buffer_.size() > 0) {
      arrival_floor_ = request_arrived_;
      return ReadHeader(waiting_since_);
    }
    phase_ = Phase::kIdle;
    stream_.expires_after(server_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            beast::bind_front_handler(&Session::OnFirstBytes, shared_from_this()));
  }

  void OnFirstBytes(beast::error_code ec, size_t bytes) {
    if (ec) {
      if (ec == beast::error::timeout) CountTimeout();
      return Close();
    }
    buffer_.commit(bytes);
    ReadHeader(Clock::now());
  }

  // Deadlines count from the request's first byte and are absolute: trickling bytes does not
  // extend them.
  void ReadHeader(SteadyTime first_byte) {
    request_deadline_ = first_byte + server_.options.read_timeout;
    phase_ = Phase::kHeader;
    stream_.expires_at(std::min(first_byte + server_.options.header_timeout, request_deadline_));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  // A request counts as in flight from its complete header on, so a drain waits for a request
  // whose body is still arriving.
  void OnHeader(beast::error_code ec, size_t bytes) {
    if (ec) return OnRead(ec, bytes);
    Begin();
    // RFC 7230 §3.3.3 rule 3: a Transfer-Encoding whose final coding is not chunked leaves the
    // body's length unknowable on a request; answering it and reading on would let the bytes
    // after it be taken as a second request (smuggling). Beast would read such a body as empty.
    const auto& header = parser_->get();
    if (header.find(bhttp::field::transfer_encoding) != header.end() && !header.chunked()) {
      return RejectAndClose(
          InvalidArgument("malformed HTTP request: Transfer-Encoding must end in chunked"), 400);
    }
    if (parser_->is_done()) return OnRead(ec, bytes);
    // The body's memory is budgeted before a byte of it is read: its announced length (a
    // chunked body may grow to max_body_bytes), capped by the per-request limit.
    size_t announced = parser_->content_length()
                           ? static_cast<size_t>(std::min<uint64_t>(*parser_->content_length(),
                                                                    server_.options.max_body_bytes))
                           : server_.options.max_body_bytes;
    if (!server_.ReserveBody(announced)) {
      server_.body_budget_refused.Inc();
      return RejectAndClose(
          Unavailable("the server is receiving too many request bodies at once; retry shortly"),
          503);
    }
    body_reserved_ = announced;
    phase_ = Phase::kBody;
    stream_.expires_at(request_deadline_);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted ||
        (ec && ec.category() != bhttp::make_error_code(bhttp::error::end_of_stream).category())) {
      // Client done, too slow, or a socket error: nobody to answer.
      if (ec == beast::error::timeout) CountTimeout();
      End();
      return Close();
    }
    // The request was complete only after arrival_floor_, and after any moment since we began
    // waiting at which this thread found nothing ready to run (a read of ours was pending then,
    // so the request was not complete yet).
    request_arrived_ = arrival_floor_;
    SteadyTime idle = server_.LastIdle(context_);
    if (idle >= waiting_since_ && idle > request_arrived_) request_arrived_ = idle;
    RequestTiming timing{request_arrived_, Clock::now(), peer_};
    started_ = timing.handler_start;
    if (ec) {
      unsigned http_status = 400;
      Status status = InvalidArgument("malformed HTTP request: " + ec.message());
      if (ec == bhttp::error::body_limit) {
        http_status = 413;
        status = ResourceExhausted("request body larger than " +
                                   std::to_string(server_.options.max_body_bytes) + " bytes");
      } else if (ec == bhttp::error::header_limit) {
        http_status = 431;
        status = ResourceExhausted("request header larger than " +
                                   std::to_string(server_.options.max_header_bytes) + " bytes");
      }
      Begin();
      return RejectAndClose(status, http_status);
    }
    Request request = parser_->release();
    bool keep_alive = request.keep_alive();
    try {
      reply_ = server_.handler.Handle(request, timing);
    } catch (...) {
      // The handler's own boundary should have caught it; this is the last line.
      server_.handler_exceptions.Inc();
      spdlog::error("request handler threw past its boundary; answered 500");
      reply_ = InternalErrorReply();
      keep_alive = false;
    }
    ReleaseBody();  // the request (and its body) is gone once the handler returned
    reply_.response.keep_alive(keep_alive && !server_.draining.load());
    Write();
  }

  void RejectAndClose(const Status& status, unsigned http_status) {
    try {
      reply_ = server_.handler.Reject(parser_->get().base(), status, http_status);
    } catch (...) {
      server_.handler_exceptions.Inc();
      reply_ = InternalErrorReply();
    }
    if (http_status == 503) reply_.response.set(bhttp::field::retry_after, "1");
    reply_.response.keep_alive(false);
    Write();
  }

  // A 500 built without the handler, for when the handler itself failed.
  static Reply InternalErrorReply() {
    Reply reply;
    reply.response.result(bhttp::status::internal_server_error);
    reply.response.version(11);
    reply.response.set(bhttp::field::content_type, "application/json");
    reply.response.body() =
        R"({"error":"internal","message":"the request failed on an internal error"})";
    reply.endpoint = "unmatched";
    return reply;
  }

  void ReleaseBody() {
    if (body_reserved_ == 0) return;
    server_.ReleaseBody(body_reserved_);
    body_reserved_ = 0;
  }

  void Begin() {
    if (counted_) return;
    counted_ = true;
    server_.in_flight.fetch_add(1);
    server_.handler.InFlight(+1);
  }

  void End() {
    ReleaseBody();
    if (!counted_) return;
    counted_ = false;
    server_.handler.InFlight(-1);
    server_.in_flight.fetch_sub(1);
  }

  void Write() {
    reply_.response.prepare_payload();
    phase_ = Phase::kWrite;
    stream_.expires_after(server_.options.read_timeout);
    bhttp::async_write(stream_, reply_.response,
                       beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    SteadyTime now = Clock::now();
    server_.handler.Completed(reply_, Seconds(now - started_), Seconds(now - request_arrived_));
    End();
    bool keep_alive = reply_.response.keep_alive();
    reply_ = Reply{};
    if (ec) {
      if (ec == beast::error::timeout) CountTimeout();
      return Close();
    }
    if (!keep_alive) return LingeringClose();
    arrival_floor_ = now;  // the client sees the answer only now: its next request comes later
    Read();
  }

  // Half-closes, then discards what the client still sends (e.g. the rest of a rejected body)
  // for a short while, so it reads our response instead of a connection reset.
  void LingeringClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    // Allocated only here: thousands of idle connections should not each carry this buffer.
    discard_buffer_ = std::make_unique<char[]>(kDiscardBytes);
    Discard();
  }

  void Discard() {
    stream_.async_read_some(asio::buffer(discard_buffer_.get(), kDiscardBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->Discard();
                            });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  void CountTimeout() {
    static constexpr std::string_view kPhaseLabels[] = {"idle", "header", "request", "write"};
    server_.timed_out.WithLabels({kPhaseLabels[static_cast<int>(phase_)]}).Inc();
  }

  static constexpr size_t kDiscardBytes = 16 * 1024;

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  const size_t context_;        // index of the io_context (thread) this connection lives on
  SteadyTime arrival_floor_;    // end of the previous response (or the accept estimate)
  SteadyTime request_arrived_;  // RequestTiming::arrived of the current (or last) request
  SteadyTime waiting_since_;    // when the wait for the current request began
  SteadyTime request_deadline_;
  Phase phase_ = Phase::kIdle;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Reply reply_;
  SteadyTime started_;
  bool counted_ = false;  // this connection's current request is counted in flight
  std::unique_ptr<char[]> discard_buffer_;
  const std::string peer_;    // the client's address, as text
  size_t body_reserved_ = 0;  // bytes of the body budget this request holds
};

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
  std::make_shared<Session>(std::move(socket), *this, context, arrival_floor, std::move(peer))
      ->Start();
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
