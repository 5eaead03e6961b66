// rovy_native: the data plane's native I/O and crypto (TUN, batched UDP, ChaCha20-Poly1305).
// This file registers the exports and holds what the parts share: argument checking, errors,
// closeFd, and readiness (uv_poll on Node's own loop, so JS drains fds with batch calls and no
// thread hop or busy-polling is involved).
#include "rovy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

// ---- errors and argument checking -------------------------------------------------------

static void throw_fmt(napi_env env, bool range, const char *fmt, va_list ap) {
  char msg[256];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (range) napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  else napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

void rv_throw_range(napi_env env, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throw_fmt(env, true, fmt, ap);
  va_end(ap);
}

void rv_throw_type(napi_env env, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throw_fmt(env, false, fmt, ap);
  va_end(ap);
}

// Throws an Error like Node's system errors: message "what: text", .code "EXXX", .errno.
void rv_throw_errno(napi_env env, const char *what, int err) {
  char text[128], msg[256];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s", what, strerror_r(err, text, sizeof text));
  napi_value code, message, error, num;
  if (napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &error) != napi_ok) {
    napi_throw_error(env, NULL, msg);
    return;
  }
  if (napi_create_int32(env, -err, &num) == napi_ok) napi_set_named_property(env, error, "errno", num);
  napi_throw(env, error);
}

napi_value rv_num(napi_env env, double d) {
  napi_value v = NULL;
  napi_create_double(env, d, &v);
  return v;
}

napi_value rv_stats(napi_env env, const rv_stat *stats, size_t n) {
  napi_value result, v;
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (napi_create_double(env, stats[i].value, &v) != napi_ok || napi_set_named_property(env, result, stats[i].name, v) != napi_ok)
      return NULL;
  }
  return result;
}

bool rv_get_read_args(napi_env env, napi_callback_info info, size_t min_offset, size_t min_scratch, size_t min_state,
                      rv_read_args *a) {
  napi_value argv[8];
  napi_valuetype scratch_type;
  if (!rv_get_args(env, info, 8, argv, (void **)&a->inst) || !rv_get_fd(env, argv[0], "fd", false, &a->fd) ||
      !rv_get_batch(env, argv + 1, min_offset, &a->b) || !rv_get_count(env, argv[5], "max", &a->b, &a->max) ||
      napi_typeof(env, argv[6], &scratch_type) != napi_ok)
    return false;
  const rv_batch *b = &a->b;
  a->cap = b->slot_size - b->offset;
  if (a->cap == 0) {
    rv_throw_range(env, "offset leaves no room in the slot");
    return false;
  }
  a->scratch = NULL;
  a->state = NULL;
  if (scratch_type == napi_null) return true;
  size_t scratch_len, state_len;
  if (!rv_get_u8(env, argv[6], "scratch", &a->scratch, &scratch_len) || !rv_get_u32(env, argv[7], "state", &a->state, &state_len))
    return false;
  size_t data_len = b->slots * b->slot_size, state_bytes = state_len * 4;
  if (scratch_len < min_scratch || state_len < min_state) {
    rv_throw_range(env, "scratch must hold %zu bytes and state %zu numbers", min_scratch, min_state);
    return false;
  }
  if (rv_overlaps(a->scratch, scratch_len, b->data, data_len) || rv_overlaps(a->state, state_bytes, a->scratch, scratch_len) ||
      rv_overlaps(a->state, state_bytes, b->data, data_len) || rv_overlaps(a->state, state_bytes, b->lens, b->nlens * 4)) {
    rv_throw_range(env, "scratch and state must not share memory with each other or the batch");
    return false;
  }
  return true;
}

bool rv_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, void **data) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, data) != napi_ok) return false;
  if (argc < want) {
    rv_throw_type(env, "expected %zu arguments, got %zu", want, argc);
    return false;
  }
  return true;
}

bool rv_get_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    rv_throw_type(env, "%s must be a number", name);
    return false;
  }
  if (!isfinite(d) || d != trunc(d)) {
    rv_throw_range(env, "%s must be an integer", name);
    return false;
  }
  if (d < (double)min || d > (double)max) {
    rv_throw_range(env, "%s out of range [%lld, %lld]", name, (long long)min, (long long)max);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool rv_get_fd(napi_env env, napi_value v, const char *name, bool allow_none, int *out) {
  int64_t fd;
  if (!rv_get_int(env, v, name, allow_none ? -1 : 0, INT32_MAX, &fd)) return false;
  *out = (int)fd;
  return true;
}

bool rv_get_bool(napi_env env, napi_value v, const char *name, bool *out) {
  if (napi_get_value_bool(env, v, out) != napi_ok) {
    rv_throw_type(env, "%s must be a boolean", name);
    return false;
  }
  return true;
}

static bool get_typed(napi_env env, napi_value v, const char *name, napi_typedarray_type want,
                      const char *want_name, void **p, size_t *n) {
  bool is = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, n, p, &ab, &off) != napi_ok || type != want) {
    rv_throw_type(env, "%s must be a %s", name, want_name);
    return false;
  }
  return true;
}

bool rv_get_u8(napi_env env, napi_value v, const char *name, uint8_t **p, size_t *n) {
  return get_typed(env, v, name, napi_uint8_array, "Uint8Array", (void **)p, n);
}

bool rv_get_u32(napi_env env, napi_value v, const char *name, uint32_t **p, size_t *n) {
  return get_typed(env, v, name, napi_uint32_array, "Uint32Array", (void **)p, n);
}

bool rv_get_f64(napi_env env, napi_value v, const char *name, double **p, size_t *n) {
  return get_typed(env, v, name, napi_float64_array, "Float64Array", (void **)p, n);
}

bool rv_overlaps(const void *a, size_t an, const void *b, size_t bn) {
  uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
  return an && bn && x < y + bn && y < x + an;
}

bool rv_get_batch(napi_env env, const napi_value *argv, size_t min_offset, rv_batch *b) {
  size_t data_len;
  int64_t slot_size, offset;
  if (!rv_get_u8(env, argv[0], "data", &b->data, &data_len) ||
      !rv_get_int(env, argv[1], "slotSize", 1, INT32_MAX, &slot_size) ||
      !rv_get_int(env, argv[2], "offset", (int64_t)min_offset, slot_size, &offset) ||
      !rv_get_u32(env, argv[3], "lens", &b->lens, &b->nlens))
    return false;
  // Lengths are written while packets are read or written: they must not live inside the data.
  if (rv_overlaps(b->lens, b->nlens * 4, b->data, data_len)) {
    rv_throw_type(env, "lens must not share memory with data");
    return false;
  }
  b->slot_size = (size_t)slot_size;
  b->offset = (size_t)offset;
  b->slots = data_len / b->slot_size;
  return true;
}

bool rv_get_count(napi_env env, napi_value v, const char *name, const rv_batch *b, size_t *out) {
  int64_t n;
  size_t max = b->slots < b->nlens ? b->slots : b->nlens;
  if (!rv_get_int(env, v, name, 0, (int64_t)max, &n)) return false;
  *out = (size_t)n;
  return true;
}

bool rv_check_lens(napi_env env, const rv_batch *b, size_t count, size_t room) {
  size_t cap = b->slot_size - b->offset;
  for (size_t i = 0; i < count; i++) {
    if ((size_t)b->lens[i] > cap || cap - b->lens[i] < room) {
      rv_throw_range(env, "lens[%zu] = %u does not fit its slot (%zu bytes after offset%s)", i,
                     b->lens[i], cap, room ? ", plus the tag" : "");
      return false;
    }
  }
  return true;
}

// ---- readiness: uv_poll on Node's loop ---------------------------------------------------

// A watch lives until both its poll handle is closed and the JS handle (an external) has been
// collected, so pollStop on a stale handle never touches freed memory.
typedef enum { W_ACTIVE, W_CLOSING, W_CLOSED } watch_state;

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  napi_async_cleanup_hook_handle hook;
  watch_state state;
  bool orphan;  // the external was collected
} rv_watch;

static const napi_type_tag watch_tag = {0x726f76795f706f6cULL, 0x6c5f68616e646c65ULL};

// Runs from the loop, never inside the JS callback, so the callback's async context and
// function reference are not released while that callback may still be running.
static void watch_closed(uv_handle_t *h) {
  rv_watch *w = h->data;
  w->state = W_CLOSED;
  napi_delete_reference(w->env, w->cb);
  napi_async_destroy(w->env, w->actx);
  napi_remove_async_cleanup_hook(w->hook);
  if (w->orphan) free(w);
}

static void watch_stop(rv_watch *w) {
  if (w->state != W_ACTIVE) return;
  w->state = W_CLOSING;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, watch_closed);
}

// The environment is going away (worker exit, process teardown): a worker's loop refuses to
// close with an open handle, so close it here; watch_closed tells Node when it is done.
static void watch_cleanup(napi_async_cleanup_hook_handle handle, void *arg) { watch_stop(arg); }

static void watch_finalize(napi_env env, void *data, void *hint) {
  rv_watch *w = data;
  w->orphan = true;
  if (w->state == W_CLOSED) free(w);
}

static void watch_fire(uv_poll_t *h, int status, int events) {
  rv_watch *w = h->data;
  if (w->state != W_ACTIVE) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, result, argv[1];
  size_t argc = 0;
  // On error libuv has already stopped the handle; tell JS why instead of going quiet.
  if (status < 0) {
    napi_value code, msg;
    napi_create_string_utf8(env, uv_err_name(status), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, uv_strerror(status), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &argv[0]);
    argc = 1;
  }
  if (napi_get_reference_value(env, w->cb, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &recv) == napi_ok) {  // make_callback needs an object receiver
    // make_callback gives the call an async context and drains microtasks after it.
    if (napi_make_callback(env, w->actx, recv, cb, argc, argv, &result) == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

static napi_value Poll(napi_env env, napi_callback_info info) {
  napi_value argv[2], name, ext;
  napi_valuetype type;
  int fd;
  uv_loop_t *loop;
  if (!rv_get_args(env, info, 2, argv, NULL) || !rv_get_fd(env, argv[0], "fd", false, &fd)) return NULL;
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
    rv_throw_type(env, "callback must be a function");
    return NULL;
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  rv_watch *w = calloc(1, sizeof *w);
  if (!w) {
    rv_throw_errno(env, "poll", ENOMEM);
    return NULL;
  }
  w->env = env;
  w->poll.data = w;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) {
    free(w);
    napi_throw_error(env, uv_err_name(r), uv_strerror(r));
    return NULL;
  }
  if (napi_create_reference(env, argv[1], 1, &w->cb) != napi_ok ||
      napi_create_string_utf8(env, "rovy.poll", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &w->actx) != napi_ok ||
      napi_add_async_cleanup_hook(env, watch_cleanup, w, &w->hook) != napi_ok ||
      napi_create_external(env, w, watch_finalize, NULL, &ext) != napi_ok) {
    // Rare (out of memory); leak rather than unwind half-built N-API state.
    return NULL;
  }
  napi_type_tag_object(env, ext, &watch_tag);
  r = uv_poll_start(&w->poll, UV_READABLE, watch_fire);
  if (r < 0) {
    watch_stop(w);
    napi_throw_error(env, uv_err_name(r), uv_strerror(r));
    return NULL;
  }
  return ext;
}

static napi_value PollStop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  rv_watch *w;
  bool tagged = false;
  if (!rv_get_args(env, info, 1, argv, NULL)) return NULL;
  if (napi_check_object_type_tag(env, argv[0], &watch_tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, argv[0], (void **)&w) != napi_ok) {
    rv_throw_type(env, "handle must be a value returned by poll()");
    return NULL;
  }
  watch_stop(w);
  return NULL;
}

static napi_value CloseFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!rv_get_args(env, info, 1, argv, NULL) || !rv_get_fd(env, argv[0], "fd", false, &fd)) return NULL;
  // After EINTR the fd is already released on Linux; retrying could close someone else's.
  if (close(fd) < 0 && errno != EINTR) rv_throw_errno(env, "close", errno);
  return NULL;
}

// ---- module ------------------------------------------------------------------------------

static void instance_finalize(napi_env env, void *data, void *hint) {
  rv_aead_teardown(data);
  free(data);
}

NAPI_MODULE_INIT() {
  rv_instance *inst = calloc(1, sizeof *inst);
  if (!inst || napi_set_instance_data(env, inst, instance_finalize, NULL) != napi_ok) {
    free(inst);
    napi_throw_error(env, NULL, "rovy_native: cannot allocate instance data");
    return NULL;
  }
  napi_property_descriptor d[] = {
      RV_FN("poll", Poll, inst),
      RV_FN("pollStop", PollStop, inst),
      RV_FN("closeFd", CloseFd, inst),
  };
  if (napi_define_properties(env, exports, sizeof d / sizeof d[0], d) != napi_ok ||
      !rv_register_tun(env, exports, inst) || !rv_register_udp(env, exports, inst) ||
      !rv_register_aead(env, exports, inst) || !rv_register_marks(env, exports, inst))
    return NULL;
  return exports;
}
