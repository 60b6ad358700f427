#include "http/server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <optional>
#include <thread>
#include <vector>

namespace recserve::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  Impl(ServerOptions o, RequestHandler& h)
      : options(std::move(o)),
        handler(h),
        iocs(MakeContexts(std::max(1, options.threads))),
        acceptor(*iocs[0]),
        signals(*iocs[0], SIGTERM, SIGINT),
        drain_timer(*iocs[0]) {
    for (auto& ioc : iocs) work.push_back(asio::make_work_guard(*ioc));
  }

  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    // Concurrency hint 1: each context is run by exactly one thread, so Asio can skip locking.
    for (int i = 0; i < n; ++i) out.push_back(std::make_unique<asio::io_context>(1));
    return out;
  }

  void Accept();
  void StartDrain();
  void PollDrain();

  ServerOptions options;
  RequestHandler& handler;
  // One io_context per thread; a connection lives on one of them (round robin), so its
  // handlers never run concurrently and need no strand, and threads do not hand work to each
  // other. The acceptor, signals and drain timer live on context 0.
  std::vector<std::unique_ptr<asio::io_context>> iocs;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  size_t next_context = 0;  // touched only on context 0 (accept handler)
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer drain_timer;
  std::chrono::steady_clock::time_point drain_deadline;
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
};

namespace {

// One connection: read a request, answer it, repeat while keep-alive. Owned by the pending
// asynchronous operation (shared_from_this); freed when the connection closes.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {}

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    if (server_.draining.load()) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    // One deadline covers header and body: a client trickling bytes is dropped when it passes.
    stream_.expires_after(server_.options.read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  // A request counts as in flight from its complete header on, so a drain waits for a request
  // whose body is still arriving.
  void OnHeader(beast::error_code ec, size_t bytes) {
    if (ec) return OnRead(ec, bytes);
    Begin();
    if (parser_->is_done()) return OnRead(ec, bytes);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted ||
        (ec && ec.category() != bhttp::make_error_code(bhttp::error::end_of_stream).category())) {
      // Client done, too slow, or a socket error: nobody to answer.
      End();
      return Close();
    }
    if (ec) {
      Status status =
          ec == bhttp::error::body_limit
              ? ResourceExhausted("request body larger than " +
                                  std::to_string(server_.options.max_body_bytes) + " bytes")
          : ec == bhttp::error::header_limit
              ? ResourceExhausted("request header larger than " +
                                  std::to_string(server_.options.max_header_bytes) + " bytes")
              : InvalidArgument("malformed HTTP request: " + ec.message());
      Begin();
      started_ = std::chrono::steady_clock::now();
      reply_ = server_.handler.Reject(parser_->get().base(), status);
      reply_.response.keep_alive(false);
      return Write();
    }
    started_ = std::chrono::steady_clock::now();
    Request request = parser_->release();
    reply_ = server_.handler.Handle(request);
    reply_.response.keep_alive(request.keep_alive() && !server_.draining.load());
    Write();
  }

  void Begin() {
    if (counted_) return;
    counted_ = true;
    server_.in_flight.fetch_add(1);
    server_.handler.InFlight(+1);
  }

  void End() {
    if (!counted_) return;
    counted_ = false;
    server_.handler.InFlight(-1);
    server_.in_flight.fetch_sub(1);
  }

  void Write() {
    reply_.response.prepare_payload();
    stream_.expires_after(server_.options.read_timeout);
    bhttp::async_write(stream_, reply_.response,
                       beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    server_.handler.Completed(reply_, seconds);
    End();
    bool keep_alive = reply_.response.keep_alive();
    reply_ = Reply{};
    if (ec) return Close();
    if (!keep_alive) return LingeringClose();
    Read();
  }

  // Half-closes, then discards what the client still sends (e.g. the rest of a rejected body)
  // for a short while, so it reads our response instead of a connection reset.
  void LingeringClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    Discard();
  }

  void Discard() {
    stream_.async_read_some(asio::buffer(discard_buffer_),
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

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Reply reply_;
  std::chrono::steady_clock::time_point started_;
  bool counted_ = false;  // this connection's current request is counted in flight
  std::array<char, 16 * 1024> discard_buffer_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  asio::io_context& target = *iocs[next_context++ % iocs.size()];
  acceptor.async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), *this)->Start();
    } else {
      // EMFILE and friends: keep accepting; the next attempt may succeed once fds are freed.
      spdlog::warn("accept failed: {}", ec.message());
    }
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

HttpServer::HttpServer(ServerOptions options, RequestHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

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
  if (ec) {
    return Unavailable("cannot listen on " + impl_->options.address + ":" +
                       std::to_string(impl_->options.port) + ": " + ec.message());
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
  Impl& impl = *impl_;
  impl.signals.async_wait([&impl](beast::error_code ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received", signal);
    asio::post(impl.acceptor.get_executor(), [&impl] { impl.StartDrain(); });
  });
  impl.Accept();
  std::vector<std::thread> threads;
  for (size_t i = 1; i < impl.iocs.size(); ++i) {
    threads.emplace_back([&impl, i] { impl.iocs[i]->run(); });
  }
  impl.iocs[0]->run();
  for (auto& t : threads) t.join();
  spdlog::info("drained; server stopped");
}

}  // namespace recserve::http
