// UDP sockets with batched I/O: recvmmsg/sendmmsg move up to RV_MMSG datagrams per syscall,
// which is where node:dgram spends most of a packet's budget. Addresses travel inside the batch
// as a fixed 32-byte endpoint area at the start of each slot:
//   [0] family 4|6, [1] transport (0: UDP, the only one this file sends), [2..4) port big-endian, [4..20) address (IPv4 in [4..8)),
//   [20..24) IPv6 scope id little-endian, rest zero.
// Sending, a run of datagrams to one endpoint, all of one size but the last (which may be
// shorter), leaves as one message with UDP_SEGMENT (UDP GSO): the kernel routes and builds it
// once and cuts it into those datagrams as late as it can. A socket whose route cannot do that
// (no checksum offload on the device, on kernels that require it) is refused with EIO: the run
// goes out datagram by datagram, and so does everything that socket sends from then on. A run
// whose segments exceed the destination's MTU (EINVAL or EMSGSIZE, by kernel) goes datagram by
// datagram, that run only.
#include "rovy.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
// Receiving with UDP GRO, a message may hold many datagrams of one size (the last may be
// shorter) from one sender, up to 64 KB: recvmmsg fills RV_GRO_MSGS such messages in a scratch
// area the caller keeps, and they are handed out datagram by datagram into the batch's slots.
// Scratch: RV_GRO_MSGS × RV_GRO_MSG_BYTES of messages, then their RV_GRO_MSGS endpoints. State
// (numbers): [0] messages held, [1] the one being handed out, [2] the offset reached in it,
// [3, 3 + RV_GRO_MSGS) their lengths, then their datagram sizes.
#define RV_GRO_MSGS 16
#define RV_GRO_MSG_BYTES 65536
#define RV_GRO_SCRATCH (RV_GRO_MSGS * (RV_GRO_MSG_BYTES + RV_ENDPOINT_BYTES))
#define RV_GRO_STATE (3 + 2 * RV_GRO_MSGS)
// The kernel takes at most 64 segments per GSO message (UDP_MAX_SEGMENTS) and a UDP payload
// under 64 KB; these stay inside both.
#define RV_GSO_SEGMENTS 64
#define RV_GSO_BYTES 60000
// iovecs per sendmmsg call: a message per datagram, or several datagrams per GSO message.
#define RV_SEND_IOV (RV_MMSG * 4)

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

// udpOpen(family, addr, port, bufBytes) -> { fd, port, gro }: gro says the kernel may hand over
// coalesced datagrams (UDP_GRO, Linux 5.0): read them with a scratch area (udpRecvBatch).
static napi_value UdpOpen(napi_env env, napi_callback_info info) {
  napi_value argv[4], result, v;
  int64_t family, port, buf_bytes;
  uint8_t *addr;
  size_t addr_len;
  rv_instance *inst;
  if (!rv_get_args(env, info, 4, argv, (void **)&inst) || !rv_get_int(env, argv[0], "family", 4, 6, &family) ||
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
  // A new socket may reuse a closed one's number: it starts with GSO allowed.
  if (fd < RV_GSO_FDS) inst->gso_refused[fd / 64] &= ~(1ull << (fd % 64));
  int bound = ntohs(family == 4 ? sa.v4.sin_port : sa.v6.sin6_port);
  bool gro = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
  if (napi_create_object(env, &result) != napi_ok || napi_create_int32(env, fd, &v) != napi_ok ||
      napi_set_named_property(env, result, "fd", v) != napi_ok ||
      napi_create_int32(env, bound, &v) != napi_ok ||
      napi_set_named_property(env, result, "port", v) != napi_ok || napi_get_boolean(env, gro, &v) != napi_ok ||
      napi_set_named_property(env, result, "gro", v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

// Sets up message m of a recvmmsg: one buffer, room for the sender's address, and control room
// (ctl, or none when NULL).
static void recv_message(struct mmsghdr *m, struct iovec *iov, rv_sockaddr *name, void *buf, size_t len, void *ctl,
                         size_t ctl_len) {
  iov->iov_base = buf;
  iov->iov_len = len;
  memset(&m->msg_hdr, 0, sizeof m->msg_hdr);
  m->msg_hdr.msg_name = name;
  m->msg_hdr.msg_namelen = sizeof *name;
  m->msg_hdr.msg_iov = iov;
  m->msg_hdr.msg_iovlen = 1;
  m->msg_hdr.msg_control = ctl;
  m->msg_hdr.msg_controllen = ctl ? ctl_len : 0;
}

// One datagram per message, straight into the slots.
static size_t recv_plain(rv_instance *inst, int fd, rv_batch *b, size_t max, size_t cap, int *err) {
  struct mmsghdr msgs[RV_MMSG];
  struct iovec iov[RV_MMSG];
  rv_sockaddr names[RV_MMSG];
  size_t n = 0;
  while (n < max) {
    unsigned want = (unsigned)(max - n < RV_MMSG ? max - n : RV_MMSG);
    for (unsigned k = 0; k < want; k++) recv_message(&msgs[k], &iov[k], &names[k], rv_slot(b, n + k) + b->offset, cap, NULL, 0);
    int r = recvmmsg(fd, msgs, want, MSG_DONTWAIT, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) *err = errno;
      break;
    }
    if (r > 0) {
      inst->udp_recv_calls++;
      inst->udp_received += r;
    }
    for (int k = 0; k < r; k++, n++) {
      endpoint_from_sockaddr(rv_slot(b, n), &names[k]);
      b->lens[n] = (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : msgs[k].msg_len;
    }
    if ((unsigned)r < want) break;  // the queue is drained
  }
  return n;
}

// Fills scratch with up to RV_GRO_MSGS messages; false if none came (then *err may be set).
// *drained says the socket had fewer than asked for: nothing more is waiting.
static bool recv_gro_messages(rv_instance *inst, int fd, uint8_t *scratch, uint32_t *state, bool *drained, int *err) {
  struct mmsghdr msgs[RV_GRO_MSGS];
  struct iovec iov[RV_GRO_MSGS];
  rv_sockaddr names[RV_GRO_MSGS];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl[RV_GRO_MSGS];
  for (unsigned k = 0; k < RV_GRO_MSGS; k++)
    recv_message(&msgs[k], &iov[k], &names[k], scratch + (size_t)k * RV_GRO_MSG_BYTES, RV_GRO_MSG_BYTES, ctl[k].buf, sizeof ctl[k].buf);
  int r;
  do r = recvmmsg(fd, msgs, RV_GRO_MSGS, MSG_DONTWAIT, NULL);
  while (r < 0 && errno == EINTR);
  if (r <= 0) {
    if (r < 0 && errno != EAGAIN) *err = errno;
    return false;
  }
  inst->udp_recv_calls++;
  *drained = r < RV_GRO_MSGS;
  uint8_t *eps = scratch + (size_t)RV_GRO_MSGS * RV_GRO_MSG_BYTES;
  for (int k = 0; k < r; k++) {
    struct msghdr *h = &msgs[k].msg_hdr;
    endpoint_from_sockaddr(eps + (size_t)k * RV_ENDPOINT_BYTES, &names[k]);
    uint32_t len = (h->msg_flags & MSG_TRUNC) ? 0 : msgs[k].msg_len;
    int size = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof size))
        memcpy(&size, CMSG_DATA(c), sizeof size);
    }
    state[3 + k] = len;
    state[3 + RV_GRO_MSGS + k] = size > 0 && (uint32_t)size < len ? (uint32_t)size : len;
  }
  state[0] = (uint32_t)r;
  state[1] = 0;
  state[2] = 0;
  return true;
}

// Hands out the held messages' datagrams into slots, receiving more when they run out. What
// does not fit in max stays in scratch for the next call.
static size_t recv_gro(rv_instance *inst, int fd, rv_batch *b, size_t max, size_t cap, uint8_t *scratch, uint32_t *state,
                       int *err) {
  const uint8_t *eps = scratch + (size_t)RV_GRO_MSGS * RV_GRO_MSG_BYTES;
  size_t n = 0;
  bool drained = false;
  while (n < max) {
    // Another recvmmsg only if the last one did not already find the queue empty.
    if (state[1] >= state[0] && (drained || !recv_gro_messages(inst, fd, scratch, state, &drained, err))) break;
    uint32_t k = state[1], len = state[3 + k], size = state[3 + RV_GRO_MSGS + k], off = state[2];
    const uint8_t *msg = scratch + (size_t)k * RV_GRO_MSG_BYTES, *ep = eps + (size_t)k * RV_ENDPOINT_BYTES;
    do {  // an empty (or truncated) message is one empty slot, as without GRO
      uint32_t take = len - off < size ? len - off : size;
      uint8_t *slot = rv_slot(b, n);
      memcpy(slot, ep, RV_ENDPOINT_BYTES);
      if (take <= cap) memcpy(slot + b->offset, msg + off, take);
      b->lens[n++] = take <= cap ? take : 0;
      off += take;
      inst->udp_received++;
    } while (n < max && off < len);
    if (off >= len) {
      state[1]++;
      state[2] = 0;
    } else {
      state[2] = off;
    }
  }
  return n;
}

// Whether a state array holds what recv_gro leaves there (it lives in JS memory).
static bool gro_state_ok(const uint32_t *state) {
  if (state[0] > RV_GRO_MSGS || state[1] > state[0]) return false;
  for (uint32_t k = state[1]; k < state[0]; k++) {
    uint32_t len = state[3 + k], size = state[3 + RV_GRO_MSGS + k];
    if (len > RV_GRO_MSG_BYTES || size > len || (len > 0 && size == 0)) return false;
  }
  return state[0] == 0 || state[1] == state[0] || state[2] < state[3 + state[1]] || state[2] == 0;
}

// udpRecvBatch(fd, data, slotSize, offset, lens, max, scratch, state) -> datagrams received. Each
// slot gets the sender's endpoint; a datagram longer than the slot is reported with length 0.
// scratch and state are null for a socket without UDP GRO; otherwise RV_GRO_SCRATCH bytes and
// RV_GRO_STATE numbers, kept by the caller between calls (datagrams not yet handed out wait there).
static napi_value UdpRecvBatch(napi_env env, napi_callback_info info) {
  rv_read_args a;
  int err = 0;
  size_t n;
  if (!rv_get_read_args(env, info, RV_ENDPOINT_BYTES, RV_GRO_SCRATCH, RV_GRO_STATE, &a)) return NULL;
  if (a.scratch == NULL) {
    n = recv_plain(a.inst, a.fd, &a.b, a.max, a.cap, &err);
  } else {
    // The state lives in JS memory: anything recv_gro could not have left there is refused.
    if (!gro_state_ok(a.state)) {
      rv_throw_range(env, "state is not one this addon left");
      return NULL;
    }
    n = recv_gro(a.inst, a.fd, &a.b, a.max, a.cap, a.scratch, a.state, &err);
  }
  // Keep what was read; an error shows up on the next call.
  if (err != 0 && n == 0) {
    rv_throw_errno(env, "recvmmsg", err);
    return NULL;
  }
  return rv_num(env, (double)n);
}

static bool gso_allowed(const rv_instance *inst, int fd) {
  return fd < RV_GSO_FDS && !(inst->gso_refused[fd / 64] & (1ull << (fd % 64)));
}

static void gso_refuse(rv_instance *inst, int fd) {
  if (fd < RV_GSO_FDS) inst->gso_refused[fd / 64] |= 1ull << (fd % 64);
}

// One sendmmsg call's worth: messages, their iovecs (a message takes one per datagram, so a
// GSO message's datagram count is its msg_iovlen), names, UDP_SEGMENT control data, and each
// message's payload bytes.
typedef struct {
  struct mmsghdr msgs[RV_MMSG];
  struct iovec iov[RV_SEND_IOV];
  rv_sockaddr names[RV_MMSG];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctl[RV_MMSG];
  size_t bytes[RV_MMSG];
  unsigned n, iovs;
  int fd;
  bool gso;  // whether fd may send GSO messages (looked up once per group)
} rv_send_group;

static size_t datagrams(const struct mmsghdr *m) { return m->msg_hdr.msg_iovlen; }

// A GSO message's datagrams, each its own message to the same name, in as few sendmmsg calls
// as it takes. Returns false after throwing; *full is set if the socket filled up.
static bool send_singly(napi_env env, rv_instance *inst, int fd, const struct msghdr *h, size_t *sent, bool *full) {
  struct mmsghdr one[RV_GSO_SEGMENTS];
  size_t n = h->msg_iovlen, i = 0;
  for (size_t k = 0; k < n; k++) {
    memset(&one[k], 0, sizeof one[k]);
    one[k].msg_hdr.msg_name = h->msg_name;
    one[k].msg_hdr.msg_namelen = h->msg_namelen;
    one[k].msg_hdr.msg_iov = h->msg_iov + k;
    one[k].msg_hdr.msg_iovlen = 1;
  }
  while (i < n) {
    int r = sendmmsg(fd, one + i, (unsigned)(n - i), MSG_DONTWAIT);
    if (r > 0) {
      inst->udp_send_calls++;
      *sent += (size_t)r;
      i += (size_t)r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
      *full = true;
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

// Sends the group. EAGAIN/ENOBUFS drop the rest (the socket is full; retrying now would spin),
// a per-destination error drops that message's datagrams. A GSO message the kernel refuses goes
// again datagram by datagram: with EIO (or no UDP_SEGMENT at all) the socket's route cannot do
// GSO, and it sends none again; with EINVAL or EMSGSIZE (depending on the kernel) the segments
// exceed this destination's MTU, and only this message is affected. Returns false after throwing.
static bool send_group(napi_env env, rv_instance *inst, rv_send_group *g, size_t *sent) {
  unsigned i = 0;
  while (i < g->n) {
    struct mmsghdr *m = &g->msgs[i];
    bool full = false;
    if (datagrams(m) > 1 && !gso_allowed(inst, g->fd)) {
      // Refused earlier in this group: no second try.
      if (!send_singly(env, inst, g->fd, &m->msg_hdr, sent, &full)) return false;
      if (full) return true;
      i++;
      continue;
    }
    int r = sendmmsg(g->fd, m, g->n - i, MSG_DONTWAIT);
    if (r > 0) {
      inst->udp_send_calls++;
      for (unsigned k = i; k < i + (unsigned)r; k++) {
        *sent += datagrams(&g->msgs[k]);
        if (datagrams(&g->msgs[k]) > 1) {
          inst->gso_sends++;
          inst->gso_datagrams += (double)datagrams(&g->msgs[k]);
        }
      }
      i += (unsigned)r;
      continue;
    }
    int err = r < 0 ? errno : EIO;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == ENOBUFS) return true;
    if (datagrams(m) > 1 && (err == EIO || err == EOPNOTSUPP || err == ENOPROTOOPT || err == EINVAL || err == EMSGSIZE)) {
      inst->gso_sends++;
      inst->gso_datagrams += (double)datagrams(m);
      inst->gso_fallbacks++;
      if (err == EIO || err == EOPNOTSUPP || err == ENOPROTOOPT) gso_refuse(inst, g->fd);
      if (!send_singly(env, inst, g->fd, &m->msg_hdr, sent, &full)) return false;
      if (full) return true;
      i++;
    } else if (per_datagram_error(err)) {
      i++;
    } else {
      rv_throw_errno(env, "sendmmsg", err);
      return false;
    }
  }
  return true;
}

// Gives the group's GSO messages their UDP_SEGMENT size, sends it and empties it.
static bool flush_group(napi_env env, rv_instance *inst, rv_send_group *g, size_t *sent) {
  for (unsigned m = 0; m < g->n; m++) {
    struct msghdr *h = &g->msgs[m].msg_hdr;
    if (h->msg_iovlen < 2) continue;
    h->msg_control = g->ctl[m].buf;
    h->msg_controllen = sizeof g->ctl[m].buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t size = (uint16_t)h->msg_iov[0].iov_len;
    memcpy(CMSG_DATA(c), &size, sizeof size);
  }
  bool ok = g->n == 0 || send_group(env, inst, g, sent);
  g->n = 0;
  g->iovs = 0;
  return ok;
}

// udpSendBatch(fd4, fd6, data, slotSize, offset, lens, count) -> datagrams sent. Each slot
// goes to its endpoint on the socket of that family (-1: none, the datagram is dropped); slots
// whose endpoint names another transport are skipped.
static napi_value UdpSendBatch(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  rv_batch b;
  rv_instance *inst;
  int fd4, fd6;
  size_t count, sent = 0;
  if (!rv_get_args(env, info, 7, argv, (void **)&inst) || !rv_get_fd(env, argv[0], "fd4", true, &fd4) ||
      !rv_get_fd(env, argv[1], "fd6", true, &fd6) || !rv_get_batch(env, argv + 2, RV_ENDPOINT_BYTES, &b) ||
      !rv_get_count(env, argv[6], "count", &b, &count) || !rv_check_lens(env, &b, count, 0))
    return NULL;
  rv_send_group g;
  g.n = 0;
  g.iovs = 0;
  g.fd = -1;
  const uint8_t *first_ep = NULL;  // the endpoint of the group's last message
  for (size_t i = 0; i < count; i++) {
    uint8_t *slot = rv_slot(&b, i);
    // A slot for another transport (endpoint byte 1: TCP, TLS, ...) is left to it.
    int fd = slot[1] != 0 ? -1 : slot[0] == 4 ? fd4 : slot[0] == 6 ? fd6 : -1;
    size_t len = b.lens[i];
    if (len == 0 || fd < 0) continue;
    if (g.n > 0 && fd == g.fd) {
      // Onto the last message, as one more GSO segment: same endpoint, no longer than the
      // segment size, after segments that all have it, within the kernel's limits.
      unsigned m = g.n - 1;
      struct msghdr *h = &g.msgs[m].msg_hdr;
      size_t size = h->msg_iov[0].iov_len;
      if (g.gso && g.iovs < RV_SEND_IOV && h->msg_iovlen < RV_GSO_SEGMENTS &&
          len <= size && h->msg_iov[h->msg_iovlen - 1].iov_len == size && g.bytes[m] + len <= RV_GSO_BYTES &&
          memcmp(first_ep, slot, RV_ENDPOINT_BYTES) == 0) {
        g.iov[g.iovs].iov_base = slot + b.offset;
        g.iov[g.iovs].iov_len = len;
        g.iovs++;
        h->msg_iovlen++;
        g.bytes[m] += len;
        continue;
      }
    }
    if (g.n > 0 && (fd != g.fd || g.n == RV_MMSG || g.iovs == RV_SEND_IOV)) {
      if (!flush_group(env, inst, &g, &sent)) return NULL;
    }
    if (g.n == 0) {
      g.fd = fd;
      g.gso = gso_allowed(inst, fd);
    }
    unsigned m = g.n++;
    g.iov[g.iovs].iov_base = slot + b.offset;
    g.iov[g.iovs].iov_len = len;
    memset(&g.msgs[m], 0, sizeof g.msgs[m]);
    g.msgs[m].msg_hdr.msg_name = &g.names[m];
    g.msgs[m].msg_hdr.msg_namelen = endpoint_to_sockaddr(slot, &g.names[m]);
    g.msgs[m].msg_hdr.msg_iov = &g.iov[g.iovs];
    g.msgs[m].msg_hdr.msg_iovlen = 1;
    g.iovs++;
    g.bytes[m] = len;
    first_ep = slot;
  }
  bool ok = flush_group(env, inst, &g, &sent);
  inst->udp_sent += (double)sent;
  return ok ? rv_num(env, (double)sent) : NULL;
}

// udpStats() -> { recvCalls, received, sendCalls, sent, gsoSends, gsoDatagrams, gsoFallbacks }
// for this thread's sockets: recvmmsg and sendmmsg calls that moved datagrams and the datagrams
// they moved; GSO messages handed to the kernel (refused ones too), the datagrams in them, and
// the times the kernel refused one. A message never reached because the socket filled up is not
// counted.
static napi_value UdpStats(napi_env env, napi_callback_info info) {
  rv_instance *inst;
  if (!rv_get_args(env, info, 0, NULL, (void **)&inst)) return NULL;
  const rv_stat stats[] = {
      {"recvCalls", inst->udp_recv_calls}, {"received", inst->udp_received}, {"sendCalls", inst->udp_send_calls},
      {"sent", inst->udp_sent},           {"gsoSends", inst->gso_sends},     {"gsoDatagrams", inst->gso_datagrams},
      {"gsoFallbacks", inst->gso_fallbacks}};
  return rv_stats(env, stats, sizeof stats / sizeof stats[0]);
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
      RV_FN("udpStats", UdpStats, inst),
  };
  return napi_define_properties(env, exports, sizeof d / sizeof d[0], d) == napi_ok;
}
