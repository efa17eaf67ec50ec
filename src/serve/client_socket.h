#pragma once
// Whether the client of an HTTP request is still connected, so that the slot of a client that went
// away is freed at the next step even while nothing is being written to it. cpp-httplib 0.11 does
// not hand its socket to handlers, so it is found among the process's descriptors by the
// connection's two ends, and checked again by them at each look (a reused descriptor is not taken
// for the old connection).
#include <string>

namespace mmfree::serve {

class ClientSocket {
 public:
  // The connection from remote_addr:remote_port to local_port; not found: connected() stays true.
  ClientSocket(std::string remote_addr, int remote_port, int local_port);
  // False once the peer has closed or reset the connection.
  bool connected() const;

 private:
  bool is_ours(int fd) const;
  std::string remote_addr_;
  int remote_port_, local_port_;
  int fd_ = -1;
};

}  // namespace mmfree::serve
