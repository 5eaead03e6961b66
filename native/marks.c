// Sockets with a firewall mark (SO_MARK): while the host's traffic goes through an exit, the
// daemon's own underlay traffic must keep its own path, and policy routing tells it apart by
// this mark (like WireGuard's fwmark). A UDP socket is marked once open; a TCP connection must be
// marked before its first segment, so it is dialled here: socket, mark, non-blocking connect,
// and the descriptor goes to Node (net.Socket({ fd })), which sees the connection complete.
#include "rovy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool set_mark(int fd, uint32_t mark) {
  return mark == 0 || setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0;
}

// socketMark(fd, mark): marks an open socket (mark 0: left as it is). Needs CAP_NET_ADMIN.
static napi_value SocketMark(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  int64_t mark;
  if (!rv_get_args(env, info, 2, argv, NULL) || !rv_get_fd(env, argv[0], "fd", false, &fd) ||
      !rv_get_int(env, argv[1], "mark", 0, UINT32_MAX, &mark))
    return NULL;
  if (!set_mark(fd, (uint32_t)mark)) {
    rv_throw_errno(env, "SO_MARK", errno);
    return NULL;
  }
  return NULL;
}

// tcpDial(family, addr, port, mark) -> fd: a non-blocking TCP socket, marked, its connect begun.
static napi_value TcpDial(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  int64_t family, port, mark;
  uint8_t *addr;
  size_t addr_len;
  if (!rv_get_args(env, info, 4, argv, NULL) || !rv_get_int(env, argv[0], "family", 4, 6, &family) ||
      !rv_get_u8(env, argv[1], "addr", &addr, &addr_len) || !rv_get_int(env, argv[2], "port", 1, 65535, &port) ||
      !rv_get_int(env, argv[3], "mark", 0, UINT32_MAX, &mark))
    return NULL;
  if ((family != 4 && family != 6) || addr_len != (family == 4 ? 4u : 16u)) {
    rv_throw_range(env, "family must be 4 or 6, with an address of 4 or 16 bytes");
    return NULL;
  }
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
  struct sockaddr *sa;
  socklen_t sa_len;
  if (family == 4) {
    memset(&v4, 0, sizeof v4);
    v4.sin_family = AF_INET;
    v4.sin_port = htons((uint16_t)port);
    memcpy(&v4.sin_addr, addr, 4);
    sa = (struct sockaddr *)&v4;
    sa_len = sizeof v4;
  } else {
    memset(&v6, 0, sizeof v6);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons((uint16_t)port);
    memcpy(&v6.sin6_addr, addr, 16);
    sa = (struct sockaddr *)&v6;
    sa_len = sizeof v6;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    rv_throw_errno(env, "socket", errno);
    return NULL;
  }
  const char *what = NULL;
  if (!set_mark(fd, (uint32_t)mark))
    what = "SO_MARK";
  else if (connect(fd, sa, sa_len) < 0 && errno != EINPROGRESS)
    what = "connect";
  if (what) {
    int err = errno;
    close(fd);
    rv_throw_errno(env, what, err);
    return NULL;
  }
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

bool rv_register_marks(napi_env env, napi_value exports, rv_instance *inst) {
  napi_property_descriptor d[] = {
      RV_FN("socketMark", SocketMark, inst),
      RV_FN("tcpDial", TcpDial, inst),
  };
  return napi_define_properties(env, exports, sizeof d / sizeof d[0], d) == napi_ok;
}
