#pragma once
// The HTTP/1.1 side of allm serve on Boost.Beast: accepts connections, reads
// requests under size limits and timeouts, hands each one to the handler on a
// worker pool, writes whole or chunked answers in order, notices clients that
// go away, and drains on shutdown. Knows nothing of the APIs themselves.
#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "http_exchange.hpp"

namespace allm::server {

struct HttpLimits {
  size_t max_body_bytes = 8u << 20;
  size_t max_header_bytes = 16u << 10;
  double header_timeout_s = 10;
  double body_timeout_s = 60;
  double write_timeout_s = 60;
  size_t max_connections = 512;
};

class HttpServer {
 public:
  using Handler = std::function<void(std::shared_ptr<Exchange>)>;
  using Finished = std::function<void(const Exchange&)>;

  HttpServer(boost::asio::io_context& io, HttpLimits limits, Handler handler, Finished finished,
             std::string server_header, size_t handler_threads = 4);
  ~HttpServer();

  // Binds and listens; throws IoError naming the address on failure.
  boost::asio::ip::tcp::endpoint listen(const std::string& host, uint16_t port);
  // Stops accepting, closes idle connections; `done` runs (on the I/O thread)
  // once no request is in flight.
  void drain(std::function<void()> done);
  bool draining() const { return draining_->load(); }
  size_t in_flight() const { return in_flight_.load(); }
  // Waits for the handlers running now (shutdown).
  void join_handlers() { pool_.join(); }
  // Runs `work` on the handler pool.
  void run_handler(std::shared_ptr<Exchange> exchange);

  // Used by connections (I/O thread).
  const HttpLimits& limits() const { return limits_; }
  std::shared_ptr<std::atomic<bool>> draining_flag() const { return draining_; }
  const std::string& server_header() const { return server_header_; }
  void exchange_started() { ++in_flight_; }
  void exchange_finished(const Exchange& e);
  void connection_closed() { --connections_; }

 private:
  void accept();

  boost::asio::io_context& io_;
  HttpLimits limits_;
  Handler handler_;
  Finished finished_;
  std::string server_header_;
  boost::asio::thread_pool pool_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<std::atomic<bool>> draining_ = std::make_shared<std::atomic<bool>>(false);
  std::atomic<size_t> in_flight_{0};
  size_t connections_ = 0;  // I/O thread only
  std::list<std::weak_ptr<Connection>> live_;  // I/O thread only
  std::function<void()> drained_;
};

}  // namespace allm::server
