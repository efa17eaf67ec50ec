#include "serve/client_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <filesystem>
#include <system_error>

namespace mmfree::serve {

namespace {
// Address and port of one end of a socket; port -1 when fd is no IP socket.
std::pair<std::string, int> end_of(int fd, bool peer) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  auto* sa = reinterpret_cast<sockaddr*>(&a);
  if ((peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len)) != 0) return {"", -1};
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return {buf, ntohs(in->sin_port)};
  }
  if (a.ss_family == AF_INET6) {
    const auto* in = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &in->sin6_addr, buf, sizeof buf);
    return {buf, ntohs(in->sin6_port)};
  }
  return {"", -1};
}
}  // namespace

ClientSocket::ClientSocket(std::string remote_addr, int remote_port, int local_port)
    : remote_addr_(std::move(remote_addr)), remote_port_(remote_port), local_port_(local_port) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    if (is_ours(fd)) {
      fd_ = fd;
      break;
    }
  }
}

bool ClientSocket::is_ours(int fd) const {
  return end_of(fd, false).second == local_port_ && end_of(fd, true) == std::make_pair(remote_addr_, remote_port_);
}

bool ClientSocket::connected() const {
  if (fd_ < 0) return true;
  if (!is_ours(fd_)) return false;  // closed (and perhaps reused for another connection)
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  return !(poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)));
}

}  // namespace mmfree::serve
