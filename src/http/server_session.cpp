// One connection's life (http/server.h states the contract): wait for a request under the idle
// deadline, read its header and body under absolute deadlines, budget the body, hand the request
// to the RequestHandler, write the answer, and repeat while keep-alive; count timeouts by phase.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "http/server_impl.h"

namespace recserve::http {

namespace bhttp = boost::beast::http;

namespace {

// Bytes asked for when waiting for the first byte of a request; the parser reads the rest.
constexpr size_t kFirstReadBytes = 1024;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One connection: wait for a request, read it, answer it, repeat while keep-alive. Owned by the
// pending asynchronous operation (shared_from_this); freed when the connection closes.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // See StartSession (server_impl.h) for `arrival_floor` and `peer`.
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

void StartSession(tcp::socket socket, HttpServer::Impl& server, size_t context,
                  SteadyTime arrival_floor, std::string peer) {
  std::make_shared<Session>(std::move(socket), server, context, arrival_floor, std::move(peer))
      ->Start();
}

}  // namespace recserve::http
