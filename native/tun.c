// TUN device I/O: open /dev/net/tun as a layer-3 device without packet-info headers, and move
// packets between it and batch slots, as many per JS call as are ready, because the per-call
// cost is what limits one Node thread. Addresses, MTU and link state are set by the caller.
//
// With offloads (IFF_VNET_HDR and TUNSETOFFLOAD), every packet carries a virtio-net header and
// the kernel may hand over one TCP or UDP segment of up to 64 KB, checksum not yet computed:
// reading splits it into mesh-sized packets (offload.c), so one read(2) fills many slots.
// Writing, packets of one TCP flow that follow each other go to the kernel as one segment, one
// writev(2), the way GRO would have built it.
#include "rovy.h"
#include "offload.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

// An interface name argument into name (IFNAMSIZ + 1 bytes); false with a TypeError thrown if it
// is not a string. A name too long for the kernel comes back whole (len >= IFNAMSIZ).
static bool get_ifname(napi_env env, napi_value arg, char *name, size_t *len) {
  if (napi_get_value_string_utf8(env, arg, name, IFNAMSIZ + 1, len) != napi_ok) {
    rv_throw_type(env, "name must be a string");
    return false;
  }
  return true;
}

#ifndef TUN_F_USO6
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

// The offloads asked for, best first: TCP and UDP segmentation (USO since Linux 6.2), then TCP
// alone. TCP only for IPv6: IPv4 rides rovy0 only to and from routed prefixes, where full-size
// packets do. The kernel takes USO for both families or neither; IPv4 UDP segments are split too.
static const unsigned offload_sets[] = {TUN_F_CSUM | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6, TUN_F_CSUM | TUN_F_TSO6,
                                        TUN_F_CSUM};

// tunOpen(name, offload) -> { fd, name, offloads }; an empty name lets the kernel pick one (tun0,
// tun1, ...). The device is owned by the caller's effective uid. With `offload` the fd carries
// virtio-net headers, and `offloads` is the TUN_F_* set the kernel took (0 if none: then only
// writes coalesce).
static napi_value TunOpen(napi_env env, napi_callback_info info) {
  napi_value argv[2], result, v;
  char name[IFNAMSIZ + 1];
  size_t len;
  bool offload;
  if (!rv_get_args(env, info, 2, argv, NULL) || !get_ifname(env, argv[0], name, &len) ||
      !rv_get_bool(env, argv[1], "offload", &offload))
    return NULL;
  if (len >= IFNAMSIZ) {
    rv_throw_range(env, "interface name longer than %d bytes", IFNAMSIZ - 1);
    return NULL;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    rv_throw_errno(env, "open /dev/net/tun", errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    rv_throw_errno(env, "TUNSETIFF", err);
    return NULL;
  }
  // Owned by our uid: NetworkManager takes over a TUN only if its owner matches the profile's
  // tun.owner (the daemon's uid), and a persistent one stays attachable by us alone.
  if (ioctl(fd, TUNSETOWNER, (unsigned long)geteuid()) < 0) {
    int err = errno;
    close(fd);
    rv_throw_errno(env, "TUNSETOWNER", err);
    return NULL;
  }
  unsigned offloads = 0;
  for (size_t i = 0; offload && i < sizeof offload_sets / sizeof offload_sets[0]; i++) {
    if (ioctl(fd, TUNSETOFFLOAD, offload_sets[i]) == 0) {
      offloads = offload_sets[i];
      break;
    }
  }
  // Without virtio-net headers there is no way to hand over a large segment: a persistent TUN
  // keeps the offloads an earlier owner set, so they are cleared.
  if (!offload) ioctl(fd, TUNSETOFFLOAD, 0u);
  ifr.ifr_name[IFNAMSIZ - 1] = 0;
  if (napi_create_object(env, &result) != napi_ok || napi_create_int32(env, fd, &v) != napi_ok ||
      napi_set_named_property(env, result, "fd", v) != napi_ok ||
      napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v) != napi_ok ||
      napi_set_named_property(env, result, "name", v) != napi_ok ||
      napi_create_uint32(env, offloads, &v) != napi_ok || napi_set_named_property(env, result, "offloads", v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

// The scratch buffer a vnet-header read lands in: the header and the largest packet.
#define SCRATCH_BYTES (RV_VNET_HDR_LEN + RV_MAX_SEGMENT)

// Reads without virtio-net headers, one packet per slot.
static size_t read_plain(rv_instance *inst, int fd, rv_batch *b, size_t max, size_t cap, int *err) {
  size_t n = 0;
  while (n < max) {
    ssize_t r = read(fd, rv_slot(b, n) + b->offset, cap);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) *err = errno;
      break;
    }
    inst->tun_reads++;
    // A packet longer than the slot would be cut short: hand on an empty slot instead.
    b->lens[n++] = (size_t)r <= cap ? (uint32_t)r : 0;
  }
  return n;
}

// Reads with virtio-net headers into scratch, and splits what was read into slots. A packet cut
// into more segments than there are slots left is kept in scratch: state = { its length with
// the header, the offset of its next segment's payload }, and the next call goes on with it.
static size_t read_split(rv_instance *inst, int fd, rv_batch *b, size_t max, size_t cap, uint8_t *scratch,
                         uint32_t *state, int *err) {
  size_t n = 0;
  while (n < max) {
    if (state[0] == 0) {
      ssize_t r = read(fd, scratch, SCRATCH_BYTES);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) *err = errno;
        break;
      }
      inst->tun_reads++;
      // The kernel reports a packet's whole length even when the buffer was shorter.
      if (r <= RV_VNET_HDR_LEN || r > SCRATCH_BYTES) {
        inst->tun_malformed++;
        continue;
      }
      state[0] = (uint32_t)r;
      state[1] = 0;
    }
    rv_vnet h;
    rv_split s;
    rv_vnet_read(&h, scratch);
    long segments = rv_split_begin(&s, &h, scratch + RV_VNET_HDR_LEN, state[0] - RV_VNET_HDR_LEN);
    bool resumed = state[1] != 0;
    if (segments > 0 && resumed) {
      // Only ever a payload offset this code left there, but it lives in JS memory: checked.
      if (s.mss == 0 || state[1] <= s.hdr || state[1] >= s.len) segments = -1;
      else s.cursor = state[1];
    }
    if (segments < 0) {
      inst->tun_malformed++;
      state[0] = 0;
      continue;
    }
    if (segments > 1 && !resumed) inst->tun_gso_reads++;
    while (n < max && rv_split_more(&s)) {
      long w = rv_split_next(&s, rv_slot(b, n) + b->offset, cap);
      b->lens[n++] = w > 0 ? (uint32_t)w : 0;  // too long for the slot: an empty slot, as without offloads
    }
    if (rv_split_more(&s)) {
      state[1] = (uint32_t)s.cursor;
      break;
    }
    state[0] = 0;
  }
  return n;
}

// tunReadBatch(fd, data, slotSize, offset, lens, max, scratch, state) -> packets put in slots,
// up to max, before EAGAIN. scratch and state are null for an fd without virtio-net headers;
// otherwise scratch holds SCRATCH_BYTES and state 2 numbers, both kept by the caller between
// calls (a segment not yet all handed over waits there).
static napi_value TunReadBatch(napi_env env, napi_callback_info info) {
  rv_read_args a;
  int err = 0;
  size_t n;
  if (!rv_get_read_args(env, info, 0, SCRATCH_BYTES, 2, &a)) return NULL;
  rv_instance *inst = a.inst;
  if (a.scratch == NULL) {
    n = read_plain(inst, a.fd, &a.b, a.max, a.cap, &err);
  } else {
    // The state lives in JS memory: a length this code could not have left there is refused.
    if (a.state[0] != 0 && (a.state[0] <= RV_VNET_HDR_LEN || a.state[0] > SCRATCH_BYTES)) {
      rv_throw_range(env, "state[0] = %u is no packet length this addon left", a.state[0]);
      return NULL;
    }
    n = read_split(inst, a.fd, &a.b, a.max, a.cap, a.scratch, a.state, &err);
  }
  inst->tun_packets_read += (double)n;
  // Report an error, but not at the cost of packets already read; the next call sees it.
  if (err != 0 && n == 0) {
    rv_throw_errno(env, "tun read", err);
    return NULL;
  }
  return rv_num(env, (double)n);
}

// Whether a failed TUN write drops just that packet, as a router would: a full queue (EAGAIN,
// ENOBUFS), a packet the kernel will not take (EINVAL), the link is down (EIO).
static bool dropped_write(int err) { return err == EAGAIN || err == ENOBUFS || err == EINVAL || err == EIO; }

static ssize_t writev_retrying(int fd, const struct iovec *iov, int n) {
  ssize_t r;
  do r = writev(fd, iov, n);
  while (r < 0 && errno == EINTR);
  return r;
}

// Writes the non-empty slots among count with virtio-net headers, a TCP flow's packets coalesced
// (offload.c). A coalesced write the kernel refuses is tried again packet by packet. Returns
// false with *err set on an error that is not a dropped packet.
static bool write_coalesced(rv_instance *inst, int fd, const rv_batch *b, size_t count, size_t *written, int *err) {
  static const uint8_t plain_header[RV_VNET_HDR_LEN];  // no offload: a checksummed packet
  rv_packet pkts[RV_GRO_MAX];
  uint16_t order[RV_GRO_MAX];
  rv_gro_group groups[RV_GRO_MAX];
  struct iovec iov[RV_GRO_MAX + 1];
  uint8_t head[RV_VNET_HDR_LEN + 40 + 60];
  for (size_t i = 0; i < count;) {
    size_t m = 0;
    for (; i < count && m < RV_GRO_MAX; i++) {
      if (b->lens[i] == 0) continue;
      pkts[m].p = rv_slot(b, i) + b->offset;
      pkts[m++].len = b->lens[i];
    }
    size_t ng = rv_gro_plan(pkts, m, order, groups);
    for (size_t g = 0; g < ng; g++) {
      const rv_gro_group *gg = &groups[g];
      if (gg->count > 1) {
        iov[0].iov_base = head;
        iov[0].iov_len = rv_gro_header(pkts, order, gg, head);
        for (size_t k = 0; k < gg->count; k++) {
          const rv_packet *p = &pkts[order[gg->first + k]];
          iov[k + 1].iov_base = (void *)(p->p + gg->hdr);
          iov[k + 1].iov_len = p->len - gg->hdr;
        }
        if (writev_retrying(fd, iov, (int)gg->count + 1) >= 0) {
          inst->tun_writes++;
          inst->tun_gro_writes++;
          *written += gg->count;
          continue;
        }
        if (errno != EINVAL) {
          if (dropped_write(errno)) continue;
          *err = errno;
          return false;
        }
      }
      for (size_t k = 0; k < gg->count; k++) {
        const rv_packet *p = &pkts[order[gg->first + k]];
        iov[0].iov_base = (void *)plain_header;
        iov[0].iov_len = RV_VNET_HDR_LEN;
        iov[1].iov_base = (void *)p->p;
        iov[1].iov_len = p->len;
        if (writev_retrying(fd, iov, 2) >= 0) {
          inst->tun_writes++;
          (*written)++;
        } else if (!dropped_write(errno)) {
          *err = errno;
          return false;
        }
      }
    }
  }
  return true;
}

// tunWriteBatch(fd, data, slotSize, offset, lens, count, vnet) -> packets written. Empty slots
// are skipped; a packet the kernel will not take right now is dropped (dropped_write). `vnet`
// says the fd carries virtio-net headers: then packets of a TCP flow are coalesced.
static napi_value TunWriteBatch(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  rv_batch b;
  rv_instance *inst;
  int fd, err = 0;
  bool vnet;
  size_t count, written = 0;
  if (!rv_get_args(env, info, 7, argv, (void **)&inst) || !rv_get_fd(env, argv[0], "fd", false, &fd) ||
      !rv_get_batch(env, argv + 1, 0, &b) || !rv_get_count(env, argv[5], "count", &b, &count) ||
      !rv_check_lens(env, &b, count, 0) || !rv_get_bool(env, argv[6], "vnet", &vnet))
    return NULL;
  if (vnet) {
    if (!write_coalesced(inst, fd, &b, count, &written, &err)) {
      rv_throw_errno(env, "tun write", err);
      return NULL;
    }
  } else {
    for (size_t i = 0; i < count; i++) {
      if (b.lens[i] == 0) continue;
      ssize_t r;
      do r = write(fd, rv_slot(&b, i) + b.offset, b.lens[i]);
      while (r < 0 && errno == EINTR);
      if (r >= 0) {
        inst->tun_writes++;
        written++;
      } else if (!dropped_write(errno)) {
        rv_throw_errno(env, "tun write", errno);
        return NULL;
      }
    }
  }
  inst->tun_packets_written += (double)written;
  return rv_num(env, (double)written);
}

// tunStats() -> { reads, packetsRead, gsoReads, writes, packetsWritten, groWrites, malformed }
// for this thread's TUNs: read(2) calls that returned a packet and the packets they gave (one
// per segment), how many of them were segments to split, write calls that succeeded and the
// packets they carried, how many carried a coalesced flow, and packets dropped because their
// virtio-net header did not fit them.
static napi_value TunStats(napi_env env, napi_callback_info info) {
  rv_instance *inst;
  if (!rv_get_args(env, info, 0, NULL, (void **)&inst)) return NULL;
  const rv_stat stats[] = {
      {"reads", inst->tun_reads},   {"packetsRead", inst->tun_packets_read},         {"gsoReads", inst->tun_gso_reads},
      {"writes", inst->tun_writes}, {"packetsWritten", inst->tun_packets_written}, {"groWrites", inst->tun_gro_writes},
      {"malformed", inst->tun_malformed}};
  return rv_stats(env, stats, sizeof stats / sizeof stats[0]);
}

// tunDevice(fd) -> the name of the interface the fd is attached to, or null once that interface
// was deleted (the kernel detaches the fd: EBADFD). Asked of the fd, not of /sys, so it holds
// in whatever network namespace the process is.
static napi_value TunDevice(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int fd;
  if (!rv_get_args(env, info, 1, argv, NULL) || !rv_get_fd(env, argv[0], "fd", false, &fd)) return NULL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
    if (errno == EBADFD) {
      napi_get_null(env, &result);
      return result;
    }
    rv_throw_errno(env, "TUNGETIFF", errno);
    return NULL;
  }
  ifr.ifr_name[IFNAMSIZ - 1] = 0;
  if (napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &result) != napi_ok) return NULL;
  return result;
}

// ifIndex(name) -> the interface's index in this process's network namespace, 0 if none.
static napi_value IfIndex(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ + 1];
  size_t len;
  if (!rv_get_args(env, info, 1, argv, NULL) || !get_ifname(env, argv[0], name, &len)) return NULL;
  if (len >= IFNAMSIZ) return rv_num(env, 0);
  // SIOCGIFINDEX on a socket: the socket's namespace is the process's.
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    rv_throw_errno(env, "socket", errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, len);
  int index = ioctl(sock, SIOCGIFINDEX, &ifr) < 0 ? 0 : ifr.ifr_ifindex;
  close(sock);
  return rv_num(env, (double)index);
}

bool rv_register_tun(napi_env env, napi_value exports, rv_instance *inst) {
  napi_property_descriptor d[] = {
      RV_FN("tunOpen", TunOpen, inst),
      RV_FN("tunDevice", TunDevice, inst),
      RV_FN("ifIndex", IfIndex, inst),
      RV_FN("tunReadBatch", TunReadBatch, inst),
      RV_FN("tunWriteBatch", TunWriteBatch, inst),
      RV_FN("tunStats", TunStats, inst),
  };
  return napi_define_properties(env, exports, sizeof d / sizeof d[0], d) == napi_ok;
}
