// ChaCha20-Poly1305 (RFC 8439) in place, with WireGuard's nonce: 4 zero bytes then a 64-bit
// little-endian counter, no associated data. It uses the OpenSSL that Node itself exports, so no
// second libcrypto is linked: its ChaCha20 and Poly1305, put together here. OpenSSL's own
// chacha20-poly1305 makes three ChaCha20 calls per packet (the Poly1305 key block, the whole
// blocks, the last partial block) and the two short ones take a slow path, which with the
// per-call bookkeeping made it a third dearer for a 1420-byte packet and twice as dear for a short
// one. Here a packet's whole keystream comes from one call and is XORed in; the key schedule is
// set once per key, a packet sets only the nonce. A tag is checked (in constant time) before
// anything is decrypted.
#include "rovy.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#if !defined(OPENSSL_VERSION_MAJOR) || OPENSSL_VERSION_MAJOR < 3
#error "compile against Node's OpenSSL 3 headers (/usr/include/node/openssl)"
#endif

#define TAG_BYTES 16
#define KEY_BYTES 32
#define BLOCK 64
#define MAX_KEYS (1u << 24)
#define OPEN_FAILED 0xFFFFFFFFu
#define MAX_COUNTER 9007199254740991.0  // 2^53 - 1: every counter a double holds exactly
// Keystream made per ChaCha20 call: a whole packet up to 64 KB, so a packet is one call, and
// longer inputs (never on the data path) go in pieces of this size.
#define CHUNK 65536

typedef struct {
  EVP_CIPHER_CTX *ctx;  // ChaCha20 with this key; NULL: free slot
  bool encrypt;
} rv_key;

struct rv_keytab {
  rv_key *keys;
  uint32_t cap;
  EVP_MAC_CTX *poly;  // Poly1305, keyed per packet with its one-time key
  uint8_t *zeros;     // BLOCK + CHUNK zero bytes: what ChaCha20 encrypts to make keystream
  uint8_t *stream;    // BLOCK + CHUNK bytes of keystream: block 0 (the Poly1305 key), then the packet's
};

static EVP_CIPHER_CTX *key_ctx(const rv_keytab *t, uint32_t id, bool encrypt) {
  if (id >= t->cap || t->keys[id].ctx == NULL || t->keys[id].encrypt != encrypt) return NULL;
  return t->keys[id].ctx;
}

static bool counter_ok(double c) { return c >= 0 && c <= MAX_COUNTER && c == trunc(c); }

static inline size_t round_block(size_t n) { return (n + BLOCK - 1) & ~(size_t)(BLOCK - 1); }

// Starts the keystream for `counter` at block 0: EVP_chacha20 takes the 32-bit block counter then
// the 96-bit nonce, which for WireGuard is 4 zero bytes and the 64-bit counter.
static bool set_nonce(EVP_CIPHER_CTX *ctx, double counter) {
  uint8_t iv[16] = {0};
  uint64_t c = (uint64_t)counter;
  for (int i = 0; i < 8; i++) iv[8 + i] = (uint8_t)(c >> (8 * i));
  return EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1) == 1;
}

// The next `n` bytes of keystream into t->stream + at (n + at <= BLOCK + CHUNK).
static bool keystream(const rv_keytab *t, EVP_CIPHER_CTX *ctx, size_t at, size_t n) {
  int out;
  return EVP_CipherUpdate(ctx, t->stream + at, &out, t->zeros, (int)n) == 1;
}

// p ^= k, eight bytes at a time (memcpy: p need not be aligned).
static void xor_into(uint8_t *p, const uint8_t *k, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t a, b;
    memcpy(&a, p + i, 8);
    memcpy(&b, k + i, 8);
    a ^= b;
    memcpy(p + i, &a, 8);
  }
  for (; i < n; i++) p[i] ^= k[i];
}

// Poly1305 over the ciphertext as RFC 8439 lays it out with no associated data: the ciphertext,
// zeros to a multiple of 16, 8 bytes of AAD length (0), 8 of ciphertext length.
static bool poly_start(const rv_keytab *t) { return EVP_MAC_init(t->poly, t->stream, 32, NULL) == 1; }

static bool poly_finish(const rv_keytab *t, size_t len, uint8_t tag[TAG_BYTES]) {
  uint8_t tail[15 + 16] = {0};
  size_t pad = (16 - len % 16) % 16, out;
  uint64_t l = len;
  for (int i = 0; i < 8; i++) tail[pad + 8 + i] = (uint8_t)(l >> (8 * i));
  return EVP_MAC_update(t->poly, tail, pad + 16) == 1 && EVP_MAC_final(t->poly, tag, &out, TAG_BYTES) == 1 &&
         out == TAG_BYTES;
}

// Encrypts p[0..len) in place and writes the tag at p[len..len+16).
static bool seal(const rv_keytab *t, EVP_CIPHER_CTX *ctx, double counter, uint8_t *p, size_t len) {
  size_t first = len < CHUNK ? len : CHUNK;
  bool ok = set_nonce(ctx, counter) && keystream(t, ctx, 0, BLOCK + round_block(first)) && poly_start(t);
  for (size_t done = 0; ok && done < len;) {
    size_t n = len - done < CHUNK ? len - done : CHUNK;
    if (done > 0) ok = keystream(t, ctx, BLOCK, round_block(n));
    if (!ok) break;
    xor_into(p + done, t->stream + BLOCK, n);
    ok = EVP_MAC_update(t->poly, p + done, n) == 1;
    done += n;
  }
  ok = ok && poly_finish(t, len, p + len);
  if (!ok) ERR_clear_error();
  return ok;
}

// Decrypts p[0..len) in place if the tag at p[len..len+16) is right. On failure the packet is
// wiped, so nothing downstream can use it by mistake.
static bool open_(const rv_keytab *t, EVP_CIPHER_CTX *ctx, double counter, uint8_t *p, size_t len) {
  uint8_t tag[TAG_BYTES];
  size_t first = len < CHUNK ? len : CHUNK;
  bool ok = set_nonce(ctx, counter) && keystream(t, ctx, 0, BLOCK + round_block(first)) && poly_start(t) &&
            EVP_MAC_update(t->poly, p, len) == 1 && poly_finish(t, len, tag) && CRYPTO_memcmp(tag, p + len, TAG_BYTES) == 0;
  for (size_t done = 0; ok && done < len;) {
    size_t n = len - done < CHUNK ? len - done : CHUNK;
    if (done > 0 && !(ok = keystream(t, ctx, BLOCK, round_block(n)))) break;
    xor_into(p + done, t->stream + BLOCK, n);
    done += n;
  }
  if (!ok) {
    OPENSSL_cleanse(p, len);
    ERR_clear_error();  // leave Node's crypto an empty error queue
  }
  return ok;
}

// aeadKey(key, encrypt) -> id
static napi_value AeadKey(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  rv_instance *inst;
  uint8_t *key;
  size_t key_len;
  bool encrypt;
  if (!rv_get_args(env, info, 2, argv, (void **)&inst) || !rv_get_u8(env, argv[0], "key", &key, &key_len) ||
      !rv_get_bool(env, argv[1], "encrypt", &encrypt))
    return NULL;
  if (key_len != KEY_BYTES) {
    rv_throw_range(env, "key must be %d bytes", KEY_BYTES);
    return NULL;
  }
  rv_keytab *t = inst->keys;
  uint32_t id = 0;
  while (id < t->cap && t->keys[id].ctx != NULL) id++;
  if (id == t->cap) {
    uint32_t cap = t->cap ? t->cap * 2 : 16;
    rv_key *keys = cap <= MAX_KEYS ? realloc(t->keys, cap * sizeof *keys) : NULL;
    if (keys == NULL) {
      rv_throw_errno(env, "aeadKey", ENOMEM);
      return NULL;
    }
    memset(keys + t->cap, 0, (cap - t->cap) * sizeof *keys);
    t->keys = keys;
    t->cap = cap;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL || EVP_CipherInit_ex(ctx, EVP_chacha20(), NULL, key, NULL, 1) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    napi_throw_error(env, NULL, "aeadKey: OpenSSL could not set up ChaCha20");
    return NULL;
  }
  t->keys[id] = (rv_key){ctx, encrypt};
  return rv_num(env, id);
}

// aeadFree(id): frees the context (OpenSSL wipes the key schedule); unknown ids are ignored.
static napi_value AeadFree(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  rv_instance *inst;
  int64_t id;
  if (!rv_get_args(env, info, 1, argv, (void **)&inst) || !rv_get_int(env, argv[0], "id", 0, UINT32_MAX, &id))
    return NULL;
  rv_keytab *t = inst->keys;
  if (id < t->cap && t->keys[id].ctx != NULL) {
    EVP_CIPHER_CTX_free(t->keys[id].ctx);
    t->keys[id].ctx = NULL;
  }
  return NULL;
}

// Shared checks for one packet: (id, counter, buf, off, len).
static bool get_single(napi_env env, napi_callback_info info, bool encrypt, rv_keytab **t, EVP_CIPHER_CTX **ctx,
                       double *counter, uint8_t **p, size_t *len) {
  napi_value argv[5];
  rv_instance *inst;
  int64_t id, off, n;
  uint8_t *buf;
  size_t buf_len;
  if (!rv_get_args(env, info, 5, argv, (void **)&inst) || !rv_get_int(env, argv[0], "id", 0, UINT32_MAX, &id))
    return false;
  if (napi_get_value_double(env, argv[1], counter) != napi_ok || !counter_ok(*counter)) {
    rv_throw_range(env, "counter must be an integer in [0, 2^53)");
    return false;
  }
  if (!rv_get_u8(env, argv[2], "buf", &buf, &buf_len) || !rv_get_int(env, argv[3], "off", 0, (int64_t)buf_len, &off) ||
      !rv_get_int(env, argv[4], "len", 0, INT_MAX - TAG_BYTES, &n))
    return false;
  size_t room = buf_len - (size_t)off;
  if ((size_t)n > room || (encrypt && room - (size_t)n < TAG_BYTES)) {
    rv_throw_range(env, "off + len%s exceeds the buffer", encrypt ? " + 16" : "");
    return false;
  }
  *t = inst->keys;
  *ctx = key_ctx(inst->keys, (uint32_t)id, encrypt);
  if (*ctx == NULL) {
    rv_throw_range(env, "id %lld is not a live %s key", (long long)id, encrypt ? "sealing" : "opening");
    return false;
  }
  *p = buf + off;
  *len = (size_t)n;
  return true;
}

// Counts a call that seals or opens `packets` packets.
static void count_call(napi_env env, napi_callback_info info, size_t packets) {
  rv_instance *inst;
  if (napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&inst) != napi_ok) return;
  inst->aead_calls++;
  inst->aead_packets += (double)packets;
}

// aeadSeal(id, counter, buf, off, len) -> len + 16
static napi_value AeadSeal(napi_env env, napi_callback_info info) {
  rv_keytab *t;
  EVP_CIPHER_CTX *ctx;
  double counter;
  uint8_t *p;
  size_t len;
  if (!get_single(env, info, true, &t, &ctx, &counter, &p, &len)) return NULL;
  count_call(env, info, 1);
  if (!seal(t, ctx, counter, p, len)) {
    napi_throw_error(env, NULL, "aeadSeal: OpenSSL failed");
    return NULL;
  }
  return rv_num(env, (double)(len + TAG_BYTES));
}

// aeadOpen(id, counter, buf, off, len) -> plaintext length, or -1 if it does not authenticate
static napi_value AeadOpen(napi_env env, napi_callback_info info) {
  rv_keytab *t;
  EVP_CIPHER_CTX *ctx;
  double counter;
  uint8_t *p;
  size_t len;
  if (!get_single(env, info, false, &t, &ctx, &counter, &p, &len)) return NULL;
  count_call(env, info, 1);
  if (len < TAG_BYTES || !open_(t, ctx, counter, p, len - TAG_BYTES)) return rv_num(env, -1);
  return rv_num(env, (double)(len - TAG_BYTES));
}

// Where slot i's packet starts in its slot: the one offset, or its own.
static inline size_t slot_offset(const rv_batch *b, const uint32_t *offsets, size_t i) {
  return offsets ? offsets[i] : b->offset;
}

// Checks (ids, counters, data, slotSize, offset, lens, count[, offsets]) completely before any
// slot is touched, so a bad argument throws without leaving the batch half done. With offsets
// (a Uint32Array), slot i's packet starts at offsets[i] in its slot instead of at offset.
static bool get_batch(napi_env env, napi_callback_info info, bool encrypt, rv_keytab **t,
                      uint32_t **ids, double **counters, rv_batch *b, size_t *count, uint32_t **offsets) {
  napi_value argv[8];
  rv_instance *inst;
  size_t nids, nctr, argc = 8, noffsets = 0;
  napi_valuetype offsets_type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&inst) != napi_ok) return false;
  if (argc < 7) {
    rv_throw_type(env, "expected 7 or 8 arguments, got %zu", argc);
    return false;
  }
  if (!rv_get_u32(env, argv[0], "ids", ids, &nids) || !rv_get_f64(env, argv[1], "counters", counters, &nctr) ||
      !rv_get_batch(env, argv + 2, 0, b) || !rv_get_count(env, argv[6], "count", b, count) ||
      (argc == 8 && napi_typeof(env, argv[7], &offsets_type) != napi_ok))
    return false;
  *offsets = NULL;
  if (offsets_type != napi_undefined && offsets_type != napi_null &&
      !rv_get_u32(env, argv[7], "offsets", offsets, &noffsets))
    return false;
  if (*count > nids || *count > nctr || (*offsets && *count > noffsets)) {
    rv_throw_range(env, "count exceeds ids, counters or offsets");
    return false;
  }
  if (rv_overlaps(b->lens, b->nlens * 4, *ids, nids * 4) || rv_overlaps(b->lens, b->nlens * 4, *counters, nctr * 8) ||
      (*offsets && (rv_overlaps(b->lens, b->nlens * 4, *offsets, noffsets * 4) ||
                    rv_overlaps(b->data, b->slots * b->slot_size, *offsets, noffsets * 4)))) {
    rv_throw_type(env, "lens must not share memory with ids, counters or offsets, nor offsets with the data");
    return false;
  }
  *t = inst->keys;
  for (size_t i = 0; i < *count; i++) {
    size_t at = slot_offset(b, *offsets, i);
    if (at > b->slot_size) {
      rv_throw_range(env, "offsets[%zu] = %zu is past the slot", i, at);
      return false;
    }
    size_t cap = b->slot_size - at;
    uint32_t len = b->lens[i];
    if (len > cap || (encrypt && cap - len < TAG_BYTES)) {
      rv_throw_range(env, "lens[%zu] = %u does not fit its slot", i, len);
      return false;
    }
    if (encrypt ? len == 0 : len < TAG_BYTES) continue;  // skipped: key and counter unused
    if (key_ctx(*t, (*ids)[i], encrypt) == NULL) {
      rv_throw_range(env, "ids[%zu] = %u is not a live %s key", i, (*ids)[i], encrypt ? "sealing" : "opening");
      return false;
    }
    if (!counter_ok((*counters)[i])) {
      rv_throw_range(env, "counters[%zu] must be an integer in [0, 2^53)", i);
      return false;
    }
  }
  return true;
}

// aeadSealBatch(ids, counters, data, slotSize, offset, lens, count[, offsets]): non-empty slots
// are sealed in place and grow by the tag.
static napi_value AeadSealBatch(napi_env env, napi_callback_info info) {
  rv_keytab *t;
  uint32_t *ids, *offsets;
  double *counters;
  rv_batch b;
  size_t count;
  if (!get_batch(env, info, true, &t, &ids, &counters, &b, &count, &offsets)) return NULL;
  size_t sealed = 0;
  for (size_t i = 0; i < count; i++) {
    if (b.lens[i] == 0) continue;
    sealed++;
    if (!seal(t, key_ctx(t, ids[i], true), counters[i], rv_slot(&b, i) + slot_offset(&b, offsets, i), b.lens[i])) {
      napi_throw_error(env, NULL, "aeadSealBatch: OpenSSL failed");
      return NULL;
    }
    b.lens[i] += TAG_BYTES;
  }
  count_call(env, info, sealed);
  return NULL;
}

// aeadOpenBatch(ids, counters, data, slotSize, offset, lens, count[, offsets]): each slot becomes
// its plaintext length, or 0xFFFFFFFF if it is shorter than a tag or does not authenticate.
static napi_value AeadOpenBatch(napi_env env, napi_callback_info info) {
  rv_keytab *t;
  uint32_t *ids, *offsets;
  double *counters;
  rv_batch b;
  size_t count;
  if (!get_batch(env, info, false, &t, &ids, &counters, &b, &count, &offsets)) return NULL;
  size_t opened = 0;
  for (size_t i = 0; i < count; i++) {
    uint32_t len = b.lens[i];
    opened += len >= TAG_BYTES;
    bool ok = len >= TAG_BYTES && open_(t, key_ctx(t, ids[i], false), counters[i],
                                        rv_slot(&b, i) + slot_offset(&b, offsets, i), len - TAG_BYTES);
    b.lens[i] = ok ? len - TAG_BYTES : OPEN_FAILED;
  }
  count_call(env, info, opened);
  return NULL;
}

// aeadStats() -> { calls, packets }: seal and open calls on this thread, and the packets they
// sealed or opened (tried, for opens).
static napi_value AeadStats(napi_env env, napi_callback_info info) {
  rv_instance *inst;
  if (!rv_get_args(env, info, 0, NULL, (void **)&inst)) return NULL;
  const rv_stat stats[] = {{"calls", inst->aead_calls}, {"packets", inst->aead_packets}};
  return rv_stats(env, stats, sizeof stats / sizeof stats[0]);
}

void rv_aead_teardown(rv_instance *inst) {
  rv_keytab *t = inst->keys;
  if (t == NULL) return;
  for (uint32_t i = 0; i < t->cap; i++) EVP_CIPHER_CTX_free(t->keys[i].ctx);
  free(t->keys);
  EVP_MAC_CTX_free(t->poly);
  if (t->stream) OPENSSL_cleanse(t->stream, BLOCK + CHUNK);
  free(t->stream);
  free(t->zeros);
  free(t);
  inst->keys = NULL;
}

bool rv_register_aead(napi_env env, napi_value exports, rv_instance *inst) {
  rv_keytab *t = inst->keys = calloc(1, sizeof *inst->keys);
  if (t == NULL) return false;
  EVP_MAC *poly1305 = EVP_MAC_fetch(NULL, "POLY1305", NULL);
  t->poly = poly1305 ? EVP_MAC_CTX_new(poly1305) : NULL;
  EVP_MAC_free(poly1305);  // the context holds its own reference
  t->zeros = calloc(1, BLOCK + CHUNK);
  t->stream = malloc(BLOCK + CHUNK);
  if (t->poly == NULL || t->zeros == NULL || t->stream == NULL) {
    ERR_clear_error();
    rv_aead_teardown(inst);
    return false;
  }
  napi_property_descriptor d[] = {
      RV_FN("aeadKey", AeadKey, inst),
      RV_FN("aeadFree", AeadFree, inst),
      RV_FN("aeadSeal", AeadSeal, inst),
      RV_FN("aeadOpen", AeadOpen, inst),
      RV_FN("aeadSealBatch", AeadSealBatch, inst),
      RV_FN("aeadOpenBatch", AeadOpenBatch, inst),
      RV_FN("aeadStats", AeadStats, inst),
  };
  return napi_define_properties(env, exports, sizeof d / sizeof d[0], d) == napi_ok;
}
