#include "http_server.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <deque>
#include <optional>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "allm/error.hpp"
#include "allm/log.hpp"
#include "api_error.hpp"

namespace allm::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::string status_line(int status) {
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason.data(), reason.size()) + "\r\n";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// ------------------------------------------------------------------ connection

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {}

  void start() { read_header(); }

  // I/O thread: bytes of the current exchange's answer; `last` ends it.
  void enqueue(std::string bytes, bool last) {
    if (!exchange_) return;
    if (closed_) {
      if (last) finish_exchange();
      return;
    }
    if (!bytes.empty()) out_.push_back(std::move(bytes));
    if (last) last_queued_ = true;
    if (!writing_) write_next();
  }

  void client_gone() {
    if (exchange_) exchange_->mark_client_gone();
    close();
  }

  // Drain: an idle connection (waiting for a request) closes now.
  void close_if_idle() {
    if (!exchange_) close();
  }

  bool keep_alive() const { return keep_alive_; }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.limits().max_header_bytes));
    parser_->body_limit(server_.limits().max_body_bytes);
    stream_.expires_after(ms(server_.limits().header_timeout_s));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      close();
      return;
    }
    if (ec == http::error::body_limit) {
      reject(413, "too_large",
             "the request body is larger than the limit of " + std::to_string(server_.limits().max_body_bytes) +
                 " bytes");
      return;
    }
    if (ec == http::error::header_limit) {
      reject(431, "too_large",
             "the request head is larger than the limit of " + std::to_string(server_.limits().max_header_bytes) +
                 " bytes");
      return;
    }
    if (ec) {
      reject(400, "invalid_request", "malformed HTTP request: " + ec.message());
      return;
    }
    auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
      stream_.expires_after(ms(server_.limits().write_timeout_s));
      asio::async_write(stream_, asio::buffer(*cont), [self = shared_from_this(), cont](beast::error_code e, size_t) {
        if (e) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(ms(server_.limits().body_timeout_s));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      reject(413, "too_large",
             "the request body is larger than the limit of " + std::to_string(server_.limits().max_body_bytes) +
                 " bytes");
      return;
    }
    if (ec) {
      close();
      return;
    }
    stream_.expires_never();
    auto msg = parser_->release();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    const size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (auto& f : msg) req.headers[lower(std::string(f.name_string()))] = std::string(f.value());
    req.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive() && !server_.draining();

    exchange_ = std::make_shared<Exchange>(shared_from_this(), std::move(req), Headers{});
    exchange_keep_alive_ = keep_alive_;
    ++seq_;
    server_.exchange_started();
    watch_disconnect(seq_);
    server_.run_handler(exchange_);
  }

  // Wakes when the socket becomes readable during an exchange: end of stream
  // or a reset means the client is gone (its generation is cancelled); data
  // means a pipelined request, which waits in the socket until its turn.
  void watch_disconnect(uint64_t seq) {
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this(), seq](beast::error_code ec) {
      // An answer already complete is only being flushed: nothing to cancel.
      if (ec || seq != self->seq_ || !self->exchange_ || self->closed_ || self->last_queued_) return;
      char c;
      const ssize_t n = ::recv(self->stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        self->client_gone();
      } else if (n < 0) {
        self->watch_disconnect(seq);
      }
    });
  }

  void write_next() {
    if (out_.empty()) {
      writing_ = false;
      if (last_queued_) finish_exchange();
      return;
    }
    writing_ = true;
    stream_.expires_after(ms(server_.limits().write_timeout_s));
    asio::async_write(stream_, asio::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->writing_ = false;
        self->out_.clear();
        const bool last = self->last_queued_;
        self->client_gone();
        if (last) self->finish_exchange();
        return;
      }
      self->out_.pop_front();
      self->write_next();
    });
  }

  void finish_exchange() {
    if (!exchange_) return;
    auto done = std::move(exchange_);
    exchange_.reset();
    last_queued_ = false;
    server_.exchange_finished(*done);
    if (closed_) return;
    if (!keep_alive_ || server_.draining()) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      close();
      return;
    }
    read_header();
  }

  // An error found before the request reached a handler: answered in the
  // route's API shape, then the connection closes.
  void reject(int status, const std::string& kind, const std::string& message) {
    std::string path;
    if (parser_ && parser_->is_header_done()) {
      std::string target(parser_->get().target());
      path = target.substr(0, target.find('?'));
    }
    const std::string body = error_body(flavor_of_path(path), ApiError(status, kind, message));
    auto bytes = std::make_shared<std::string>(status_line(status) + "Server: " + server_.server_header() +
                                               "\r\nContent-Type: application/json\r\nContent-Length: " +
                                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    log().debug("rejected a request: {} {}", status, message);
    stream_.expires_after(ms(server_.limits().write_timeout_s));
    asio::async_write(stream_, asio::buffer(*bytes), [self = shared_from_this(), bytes](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->close();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().close(ignored);
    server_.connection_closed();
  }

  beast::tcp_stream stream_;
  HttpServer& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Exchange> exchange_;
  std::deque<std::string> out_;
  bool writing_ = false, last_queued_ = false, closed_ = false;
  bool keep_alive_ = true, exchange_keep_alive_ = true;
  uint64_t seq_ = 0;

  friend class Exchange;
};

// -------------------------------------------------------------------- exchange

Exchange::Exchange(std::shared_ptr<Connection> conn, HttpRequest request, Headers extra_headers)
    : conn_(std::move(conn)), request_(std::move(request)), extra_headers_(std::move(extra_headers)) {}

void Exchange::post(std::string bytes, bool last) {
  auto conn = conn_;
  if (!conn) return;  // detached (fuzzing): the answer has nowhere to go
  asio::post(conn->stream_.get_executor(),
             [conn, bytes = std::move(bytes), last]() mutable { conn->enqueue(std::move(bytes), last); });
}

namespace {

// `idle_s`: how long the server keeps an idle connection; sent as a
// Keep-Alive hint so clients retire sockets before the server closes them
// (otherwise a client may reuse one just as it is being closed).
std::string head(int status, const std::string& content_type, const Headers& a, const Headers& b,
                 const std::string& server, bool keep_alive, double idle_s) {
  std::string h = status_line(status);
  h += "Server: " + server + "\r\n";
  h += "Content-Type: " + content_type + "\r\n";
  for (auto* hs : {&a, &b})
    for (auto& [k, v] : *hs) h += k + ": " + v + "\r\n";
  if (keep_alive)
    h += "Connection: keep-alive\r\nKeep-Alive: timeout=" + std::to_string(static_cast<int64_t>(idle_s)) + "\r\n";
  else
    h += "Connection: close\r\n";
  return h;
}

}  // namespace

void Exchange::respond(int status, const std::string& content_type, std::string body, Headers headers) {
  if (answered_.exchange(true)) return;
  {
    std::lock_guard lock(mutex_);
    record_.status = status;
  }
  if (!conn_) {  // detached (fuzzing): only the status is kept
    complete_ = true;
    return;
  }
  auto& conn = conn_;
  const bool keep_alive = conn->exchange_keep_alive_ && !conn->server_.draining();
  std::string bytes = head(status, content_type, extra_headers_, headers, conn->server_.server_header(), keep_alive,
                           conn->server_.limits().header_timeout_s);
  bytes += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  if (request_.method != "HEAD") bytes += body;
  complete_ = true;
  post(std::move(bytes), true);
}

void Exchange::begin_stream(int status, const std::string& content_type, Headers headers) {
  if (answered_.exchange(true)) return;
  streaming_ = true;
  {
    std::lock_guard lock(mutex_);
    record_.status = status;
  }
  if (!conn_) return;  // detached (fuzzing): only the status is kept
  auto& conn = conn_;
  const bool keep_alive = conn->exchange_keep_alive_ && !conn->server_.draining();
  headers.emplace_back("Cache-Control", "no-cache");
  headers.emplace_back("X-Accel-Buffering", "no");
  std::string bytes = head(status, content_type, extra_headers_, headers, conn->server_.server_header(), keep_alive,
                           conn->server_.limits().header_timeout_s);
  bytes += "Transfer-Encoding: chunked\r\n\r\n";
  post(std::move(bytes), false);
}

void Exchange::write(std::string data) {
  if (!streaming_ || data.empty()) return;
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string chunk = size;
  chunk += data;
  chunk += "\r\n";
  post(std::move(chunk), false);
}

void Exchange::end_stream() {
  if (!streaming_.exchange(false)) return;
  complete_ = true;
  post("0\r\n\r\n", true);
}

void Exchange::on_client_gone(std::function<void()> f) {
  std::unique_lock lock(mutex_);
  if (gone_) {
    lock.unlock();
    f();
    return;
  }
  on_gone_ = std::move(f);
}

void Exchange::mark_client_gone() {
  if (complete_) return;
  std::function<void()> f;
  {
    std::lock_guard lock(mutex_);
    if (gone_.exchange(true)) return;
    f = std::move(on_gone_);
  }
  if (f) f();
}

void Exchange::note_route(std::string route) {
  std::lock_guard lock(mutex_);
  record_.route = std::move(route);
}

void Exchange::note_model(std::string model) {
  std::lock_guard lock(mutex_);
  record_.model = std::move(model);
}

void Exchange::note_tokens(int64_t prompt, int64_t completion, int64_t cached) {
  std::lock_guard lock(mutex_);
  record_.prompt_tokens = prompt;
  record_.completion_tokens = completion;
  record_.cached_tokens = cached;
}

void Exchange::note_first_token() {
  std::lock_guard lock(mutex_);
  if (record_.ttft_ms < 0)
    record_.ttft_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
}

ExchangeRecord Exchange::record() const {
  std::lock_guard lock(mutex_);
  return record_;
}

// ---------------------------------------------------------------------- server

HttpServer::HttpServer(asio::io_context& io, HttpLimits limits, Handler handler, Finished finished,
                       std::string server_header, size_t handler_threads)
    : io_(io),
      limits_(limits),
      handler_(std::move(handler)),
      finished_(std::move(finished)),
      server_header_(std::move(server_header)),
      pool_(handler_threads),
      acceptor_(io) {}

HttpServer::~HttpServer() {
  pool_.join();
}

tcp::endpoint HttpServer::listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {  // a name ("localhost"): its first address
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty())
      throw InvalidArgumentError("--host: cannot resolve '" + host + "' (" + ec.message() + ")");
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw IoError("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  accept();
  return acceptor_.local_endpoint();
}

void HttpServer::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      log().warn("accept failed: {}", ec.message());
    } else if (connections_ >= limits_.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);  // over the connection limit: refused at once
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      ++connections_;
      auto conn = std::make_shared<Connection>(std::move(socket), *this);
      live_.remove_if([](const std::weak_ptr<Connection>& w) { return w.expired(); });
      live_.push_back(conn);
      conn->start();
    }
    if (acceptor_.is_open()) accept();
  });
}

void HttpServer::run_handler(std::shared_ptr<Exchange> exchange) {
  asio::post(pool_, [this, exchange = std::move(exchange)] { handler_(exchange); });
}

void HttpServer::exchange_finished(const Exchange& e) {
  if (finished_) finished_(e);
  if (--in_flight_ == 0 && draining_->load() && drained_) {
    auto done = std::move(drained_);
    drained_ = nullptr;
    done();
  }
}

void HttpServer::drain(std::function<void()> done) {
  draining_->store(true);
  beast::error_code ignored;
  acceptor_.close(ignored);
  for (auto& w : live_)
    if (auto c = w.lock()) asio::post(io_, [c] { c->close_if_idle(); });
  live_.clear();
  if (in_flight_.load() == 0) {
    done();
    return;
  }
  drained_ = std::move(done);
}

}  // namespace allm::server
