// Shared declarations for the rovy_native addon: argument checking that throws instead of
// touching memory out of bounds, errno errors, the batch layout, and each part's registration.
// Every rv_get_* helper returns false after it has thrown; the caller then returns NULL.
#ifndef ROVY_NATIVE_H
#define ROVY_NATIVE_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Bytes at the start of every slot reserved for a UDP endpoint (see udp.c for the format).
#define RV_ENDPOINT_BYTES 32
// Messages per recvmmsg/sendmmsg call; the arrays live on the stack, so batches larger than
// this are handled in chunks rather than by allocating.
#define RV_MMSG 64

typedef struct rv_keytab rv_keytab;

// File descriptors below this have a UDP GSO state (see udp.c); others send without GSO.
#define RV_GSO_FDS 4096

// Per-environment state (one per main thread or worker that loads the addon).
typedef struct {
  rv_keytab *keys;
  // UDP sockets the kernel refused a GSO send on (a bit per fd), and what GSO did.
  uint64_t gso_refused[RV_GSO_FDS / 64];
  double gso_sends, gso_datagrams, gso_fallbacks;
  // recvmmsg and sendmmsg calls that moved datagrams, and the datagrams they moved.
  double udp_recv_calls, udp_received, udp_send_calls, udp_sent;
  // Seal and open calls from JS, and the packets they sealed or opened.
  double aead_calls, aead_packets;
  // What the TUN did (see tun.c): system calls, packets through them, and what offloads did.
  double tun_reads, tun_packets_read, tun_gso_reads, tun_writes, tun_packets_written, tun_gro_writes,
      tun_malformed;
} rv_instance;

// One batch: `slots` slots of `slot_size` bytes in `data`, packets at `offset` in each slot,
// lengths in `lens` (nlens entries).
typedef struct {
  uint8_t *data;
  size_t slot_size, offset, slots;
  uint32_t *lens;
  size_t nlens;
} rv_batch;

static inline uint8_t *rv_slot(const rv_batch *b, size_t i) { return b->data + i * b->slot_size; }

bool rv_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, void **data);
bool rv_get_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out);
bool rv_get_fd(napi_env env, napi_value v, const char *name, bool allow_none, int *out);
bool rv_get_bool(napi_env env, napi_value v, const char *name, bool *out);
bool rv_get_u8(napi_env env, napi_value v, const char *name, uint8_t **p, size_t *n);
bool rv_get_u32(napi_env env, napi_value v, const char *name, uint32_t **p, size_t *n);
bool rv_get_f64(napi_env env, napi_value v, const char *name, double **p, size_t *n);

// argv = { data, slotSize, offset, lens }; offset must be at least min_offset.
bool rv_get_batch(napi_env env, const napi_value *argv, size_t min_offset, rv_batch *b);
// A count (or max) that fits both the slots and lens.
bool rv_get_count(napi_env env, napi_value v, const char *name, const rv_batch *b, size_t *out);
// Each lens[i] (i < count) plus `room` bytes fits in its slot after the offset.
bool rv_check_lens(napi_env env, const rv_batch *b, size_t count, size_t room);
bool rv_overlaps(const void *a, size_t an, const void *b, size_t bn);

// A resumable batch read's arguments (fd, data, slotSize, offset, lens, max, scratch, state):
// the batch (offset at least min_offset), the room after the offset in a slot (never 0), and
// the scratch buffer and state array the caller keeps in JS memory between calls, or NULL for
// both when scratch is null. Scratch holds at least min_scratch bytes and state at least
// min_state numbers, and neither shares memory with the other or the batch; what the state
// says is the caller's to check.
typedef struct {
  rv_instance *inst;
  int fd;
  rv_batch b;
  size_t max, cap;
  uint8_t *scratch;
  uint32_t *state;
} rv_read_args;
bool rv_get_read_args(napi_env env, napi_callback_info info, size_t min_offset, size_t min_scratch, size_t min_state,
                      rv_read_args *a);

void rv_throw_errno(napi_env env, const char *what, int err);
void rv_throw_range(napi_env env, const char *fmt, ...);
void rv_throw_type(napi_env env, const char *fmt, ...);
napi_value rv_num(napi_env env, double d);
// An object of named numbers (the stats functions' result).
typedef struct {
  const char *name;
  double value;
} rv_stat;
napi_value rv_stats(napi_env env, const rv_stat *stats, size_t n);

// Each part defines its exports on `exports`; `inst` is passed to every function as its data.
bool rv_register_tun(napi_env env, napi_value exports, rv_instance *inst);
bool rv_register_udp(napi_env env, napi_value exports, rv_instance *inst);
bool rv_register_aead(napi_env env, napi_value exports, rv_instance *inst);
bool rv_register_marks(napi_env env, napi_value exports, rv_instance *inst);
void rv_aead_teardown(rv_instance *inst);

#define RV_FN(name, fn, data) { name, NULL, fn, NULL, NULL, NULL, napi_enumerable, data }

#endif
