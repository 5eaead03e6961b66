// UDP sockets with batched I/O: recvmmsg/sendmmsg move up to RV_MMSG datagrams per syscall,
// which is where node:dgram spends most of a packet's budget. Addresses travel inside the batch
// as a fixed 32-byte endpoint area at the start of each slot:
//   [0] family 4|6, [1] 0, [2..4) port big-endian, [4..20) address (IPv4 in [4..8)),
//   [20..24) IPv6 scope id little-endian, rest zero.
#include "rovy.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef union {
  struct sockaddr sa;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
} rv_sockaddr;

static void endpoint_from_sockaddr(uint8_t *ep, const rv_sockaddr *s) {
  memset(ep, 0, RV_ENDPOINT_BYTES);
  if (s->sa.sa_family == AF_INET) {
    ep[0] = 4;
    memcpy(ep + 2, &s->v4.sin_port, 2);
    memcpy(ep + 4, &s->v4.sin_addr, 4);
  } else if (s->sa.sa_family == AF_INET6) {
    uint32_t scope = s->v6.sin6_scope_id;
    ep[0] = 6;
    memcpy(ep + 2, &s->v6.sin6_port, 2);
    memcpy(ep + 4, &s->v6.sin6_addr, 16);
    for (int i = 0; i < 4; i++) ep[20 + i] = (uint8_t)(scope >> (8 * i));
  }
}

// Returns the sockaddr length, or 0 if the endpoint's family byte is neither 4 nor 6.
static socklen_t endpoint_to_sockaddr(const uint8_t *ep, rv_sockaddr *s) {
  memset(s, 0, sizeof *s);
  if (ep[0] == 4) {
    s->v4.sin_family = AF_INET;
    memcpy(&s->v4.sin_port, ep + 2, 2);
    memcpy(&s->v4.sin_addr, ep + 4, 4);
    return sizeof s->v4;
  }
  if (ep[0] == 6) {
    s->v6.sin6_family = AF_INET6;
    memcpy(&s->v6.sin6_port, ep + 2, 2);
    memcpy(&s->v6.sin6_addr, ep + 4, 16);
    s->v6.sin6_scope_id = ep[20] | (uint32_t)ep[21] << 8 | (uint32_t)ep[22] << 16 | (uint32_t)ep[23] << 24;
    return sizeof s->v6;
  }
  return 0;
}

// Errors that concern one destination (or one datagram) rather than the socket: the datagram
// is dropped and the rest still go out.
static bool per_datagram_error(int err) {
  switch (err) {
    case EMSGSIZE: case ENETUNREACH: case EHOSTUNREACH: case EADDRNOTAVAIL: case EINVAL:
    case EACCES: case EPERM: case ECONNREFUSED: case EAFNOSUPPORT: case ENETDOWN:
      return true;
    default:
      return false;
  }
}

static bool set_buf(int fd, int force_opt, int opt, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) == 0) return true;
  return setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes) == 0;
}

// udpOpen(family, addr, port, bufBytes) -> { fd, port }
static napi_value UdpOpen(napi_env env, napi_callback_info info) {
  napi_value argv[4], result, v;
  int64_t family, port, buf_bytes;
  uint8_t *addr;
  size_t addr_len;
  if (!rv_get_args(env, info, 4, argv, NULL) || !rv_get_int(env, argv[0], "family", 4, 6, &family) ||
      !rv_get_u8(env, argv[1], "addr", &addr, &addr_len) ||
      !rv_get_int(env, argv[2], "port", 0, 65535, &port) ||
      !rv_get_int(env, argv[3], "bufBytes", 0, INT32_MAX / 2, &buf_bytes))
    return NULL;
  if ((family != 4 && family != 6) || addr_len != (family == 4 ? 4u : 16u)) {
    rv_throw_range(env, "family must be 4 or 6, with an address of 4 or 16 bytes");
    return NULL;
  }
  rv_sockaddr sa;
  uint8_t ep[RV_ENDPOINT_BYTES] = {(uint8_t)family, 0, (uint8_t)(port >> 8), (uint8_t)port};
  memcpy(ep + 4, addr, addr_len);
  socklen_t sa_len = endpoint_to_sockaddr(ep, &sa);

  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    rv_throw_errno(env, "socket", errno);
    return NULL;
  }
  int one = 1;
  const char *what = NULL;
  if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
    what = "IPV6_V6ONLY";
  // The *FORCE variants let root go past net.core.[rw]mem_max; others get what is allowed.
  else if (buf_bytes > 0 && !set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, (int)buf_bytes))
    what = "SO_RCVBUF";
  else if (buf_bytes > 0 && !set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, (int)buf_bytes))
    what = "SO_SNDBUF";
  else if (bind(fd, &sa.sa, sa_len) < 0)
    what = "bind";
  else if ((sa_len = sizeof sa, getsockname(fd, &sa.sa, &sa_len)) < 0)
    what = "getsockname";
  if (what) {
    int err = errno;
    close(fd);
    rv_throw_errno(env, what, err);
    return NULL;
  }
  int bound = ntohs(family == 4 ? sa.v4.sin_port : sa.v6.sin6_port);
  if (napi_create_object(env, &result) != napi_ok || napi_create_int32(env, fd, &v) != napi_ok ||
      napi_set_named_property(env, result, "fd", v) != napi_ok ||
      napi_create_int32(env, bound, &v) != napi_ok ||
      napi_set_named_property(env, result, "port", v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

// udpRecvBatch(fd, data, slotSize, offset, lens, max) -> datagrams received. Each slot gets
// the sender's endpoint; a datagram longer than the slot is reported with length 0.
static napi_value UdpRecvBatch(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  rv_batch b;
  int fd;
  size_t max, n = 0;
  if (!rv_get_args(env, info, 6, argv, NULL) || !rv_get_fd(env, argv[0], "fd", false, &fd) ||
      !rv_get_batch(env, argv + 1, RV_ENDPOINT_BYTES, &b) || !rv_get_count(env, argv[5], "max", &b, &max))
    return NULL;
  struct mmsghdr msgs[RV_MMSG];
  struct iovec iov[RV_MMSG];
  rv_sockaddr names[RV_MMSG];
  size_t cap = b.slot_size - b.offset;
  if (cap == 0) {
    rv_throw_range(env, "offset leaves no room in the slot");
    return NULL;
  }
  while (n < max) {
    unsigned want = (unsigned)(max - n < RV_MMSG ? max - n : RV_MMSG);
    for (unsigned k = 0; k < want; k++) {
      iov[k].iov_base = rv_slot(&b, n + k) + b.offset;
      iov[k].iov_len = cap;
      memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
      msgs[k].msg_hdr.msg_name = &names[k];
      msgs[k].msg_hdr.msg_namelen = sizeof names[k];
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r = recvmmsg(fd, msgs, want, MSG_DONTWAIT, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || n > 0) break;  // keep what was read; an error shows up next call
      rv_throw_errno(env, "recvmmsg", errno);
      return NULL;
    }
    for (int k = 0; k < r; k++, n++) {
      endpoint_from_sockaddr(rv_slot(&b, n), &names[k]);
      b.lens[n] = (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : msgs[k].msg_len;
    }
    if ((unsigned)r < want) break;  // the queue is drained
  }
  return rv_num(env, (double)n);
}

// Sends msgs[0..n) on fd. EAGAIN/ENOBUFS drop the rest (the socket is full; retrying now
// would spin), a per-destination error drops that one datagram. Returns false after throwing.
static bool send_group(napi_env env, int fd, struct mmsghdr *msgs, unsigned n, size_t *sent) {
  unsigned i = 0;
  while (i < n) {
    int r = sendmmsg(fd, msgs + i, n - i, MSG_DONTWAIT);
    if (r > 0) {
      *sent += (size_t)r;
      i += (unsigned)r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
      return true;
    } else if (r < 0 && per_datagram_error(errno)) {
      i++;
    } else {
      rv_throw_errno(env, "sendmmsg", r < 0 ? errno : EIO);
      return false;
    }
  }
  return true;
}

// udpSendBatch(fd4, fd6, data, slotSize, offset, lens, count) -> datagrams sent. Each slot
// goes to its endpoint on the socket of that family (-1: none, the datagram is dropped).
static napi_value UdpSendBatch(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  rv_batch b;
  int fd4, fd6, group_fd = -1;
  size_t count, sent = 0;
  unsigned n = 0;
  if (!rv_get_args(env, info, 7, argv, NULL) || !rv_get_fd(env, argv[0], "fd4", true, &fd4) ||
      !rv_get_fd(env, argv[1], "fd6", true, &fd6) || !rv_get_batch(env, argv + 2, RV_ENDPOINT_BYTES, &b) ||
      !rv_get_count(env, argv[6], "count", &b, &count) || !rv_check_lens(env, &b, count, 0))
    return NULL;
  struct mmsghdr msgs[RV_MMSG];
  struct iovec iov[RV_MMSG];
  rv_sockaddr names[RV_MMSG];
  for (size_t i = 0; i < count; i++) {
    uint8_t *slot = rv_slot(&b, i);
    int fd = slot[0] == 4 ? fd4 : slot[0] == 6 ? fd6 : -1;
    if (b.lens[i] == 0 || fd < 0) continue;
    if (n > 0 && (fd != group_fd || n == RV_MMSG)) {
      if (!send_group(env, group_fd, msgs, n, &sent)) return NULL;
      n = 0;
    }
    group_fd = fd;
    iov[n].iov_base = slot + b.offset;
    iov[n].iov_len = b.lens[i];
    memset(&msgs[n], 0, sizeof msgs[n]);
    msgs[n].msg_hdr.msg_name = &names[n];
    msgs[n].msg_hdr.msg_namelen = endpoint_to_sockaddr(slot, &names[n]);
    msgs[n].msg_hdr.msg_iov = &iov[n];
    msgs[n].msg_hdr.msg_iovlen = 1;
    n++;
  }
  if (n > 0 && !send_group(env, group_fd, msgs, n, &sent)) return NULL;
  return rv_num(env, (double)sent);
}

// udpSendTo(fd, buf, off, len, endpoint) -> true if sent; false if the socket is full or this
// destination cannot be reached right now (no route, network down, ...): a peer being offline
// is not an error of the caller's.
static napi_value UdpSendTo(napi_env env, napi_callback_info info) {
  napi_value argv[5], result;
  int fd;
  int64_t off, len;
  uint8_t *buf, *ep;
  size_t buf_len, ep_len;
  if (!rv_get_args(env, info, 5, argv, NULL) || !rv_get_fd(env, argv[0], "fd", false, &fd) ||
      !rv_get_u8(env, argv[1], "buf", &buf, &buf_len) ||
      !rv_get_int(env, argv[2], "off", 0, (int64_t)buf_len, &off) ||
      !rv_get_int(env, argv[3], "len", 0, (int64_t)buf_len - off, &len) ||
      !rv_get_u8(env, argv[4], "endpoint", &ep, &ep_len))
    return NULL;
  rv_sockaddr sa;
  socklen_t sa_len = ep_len >= RV_ENDPOINT_BYTES ? endpoint_to_sockaddr(ep, &sa) : 0;
  if (sa_len == 0) {
    rv_throw_range(env, "endpoint must be a 32-byte endpoint area with family 4 or 6");
    return NULL;
  }
  ssize_t r;
  do r = sendto(fd, buf + off, (size_t)len, MSG_DONTWAIT, &sa.sa, sa_len);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EAGAIN && errno != ENOBUFS && !per_datagram_error(errno)) {
    rv_throw_errno(env, "sendto", errno);
    return NULL;
  }
  napi_get_boolean(env, r >= 0, &result);
  return result;
}

bool rv_register_udp(napi_env env, napi_value exports, rv_instance *inst) {
  napi_property_descriptor d[] = {
      RV_FN("udpOpen", UdpOpen, inst),
      RV_FN("udpRecvBatch", UdpRecvBatch, inst),
      RV_FN("udpSendBatch", UdpSendBatch, inst),
      RV_FN("udpSendTo", UdpSendTo, inst),
  };
  return napi_define_properties(env, exports, sizeof d / sizeof d[0], d) == napi_ok;
}
