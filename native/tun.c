// TUN device I/O: open /dev/net/tun as a layer-3 device without packet-info headers, and move
// packets between it and batch slots, as many per JS call as are ready, because the per-call
// cost is what limits one Node thread. Addresses, MTU and link state are set by the caller.
#include "rovy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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

// tunOpen(name) -> { fd, name }; an empty name lets the kernel pick one (tun0, tun1, ...). The
// device is owned by the caller's effective uid.
static napi_value TunOpen(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, v;
  char name[IFNAMSIZ + 1];
  size_t len;
  if (!rv_get_args(env, info, 1, argv, NULL) || !get_ifname(env, argv[0], name, &len)) return NULL;
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
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
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
  ifr.ifr_name[IFNAMSIZ - 1] = 0;
  if (napi_create_object(env, &result) != napi_ok || napi_create_int32(env, fd, &v) != napi_ok ||
      napi_set_named_property(env, result, "fd", v) != napi_ok ||
      napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v) != napi_ok ||
      napi_set_named_property(env, result, "name", v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

// tunReadBatch(fd, data, slotSize, offset, lens, max) -> count read before EAGAIN or max.
static napi_value TunReadBatch(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  rv_batch b;
  int fd;
  size_t max, n = 0;
  if (!rv_get_args(env, info, 6, argv, NULL) || !rv_get_fd(env, argv[0], "fd", false, &fd) ||
      !rv_get_batch(env, argv + 1, 0, &b) || !rv_get_count(env, argv[5], "max", &b, &max))
    return NULL;
  size_t cap = b.slot_size - b.offset;
  if (cap == 0) {
    rv_throw_range(env, "offset leaves no room in the slot");
    return NULL;
  }
  while (n < max) {
    ssize_t r = read(fd, rv_slot(&b, n) + b.offset, cap);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      // Report the error, but not at the cost of packets already read; the next call sees it.
      if (n == 0) {
        rv_throw_errno(env, "tun read", errno);
        return NULL;
      }
      break;
    }
    // A packet longer than the slot would be cut short: hand on an empty slot instead.
    b.lens[n++] = (size_t)r <= cap ? (uint32_t)r : 0;
  }
  return rv_num(env, (double)n);
}

// tunWriteBatch(fd, data, slotSize, offset, lens, count) -> packets written. Empty slots are
// skipped. A packet the kernel will not take right now is dropped, as a router would: a full
// queue (EAGAIN, ENOBUFS), a malformed packet (EINVAL), or the link is down (EIO).
static napi_value TunWriteBatch(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  rv_batch b;
  int fd;
  size_t count, written = 0;
  if (!rv_get_args(env, info, 6, argv, NULL) || !rv_get_fd(env, argv[0], "fd", false, &fd) ||
      !rv_get_batch(env, argv + 1, 0, &b) || !rv_get_count(env, argv[5], "count", &b, &count) ||
      !rv_check_lens(env, &b, count, 0))
    return NULL;
  for (size_t i = 0; i < count; i++) {
    if (b.lens[i] == 0) continue;
    ssize_t r;
    do r = write(fd, rv_slot(&b, i) + b.offset, b.lens[i]);
    while (r < 0 && errno == EINTR);
    if (r >= 0) written++;
    else if (errno != EAGAIN && errno != ENOBUFS && errno != EINVAL && errno != EIO) {
      rv_throw_errno(env, "tun write", errno);
      return NULL;
    }
  }
  return rv_num(env, (double)written);
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
  };
  return napi_define_properties(env, exports, sizeof d / sizeof d[0], d) == napi_ok;
}
