// libFuzzer target for native/offload.c, the addon's parsers of what the kernel's TUN hands over
// and takes (built with AddressSanitizer and UBSan by scripts/fuzz.sh). The first byte chooses:
//   even: split. The next 10 bytes are a virtio-net header, the rest one packet read from the
//         TUN; every segment must fit the space given, carry a checksum a byte-wise reference
//         accepts, and the payloads must add up.
//   odd:  coalesce. The rest is cut into up to RV_GRO_MAX packets (each preceded by a length
//         byte pair); the plan must be a permutation, every header fit its buffer.
// Every input lives in a heap block of exactly its size, so any read past it is caught.
#include "../../native/offload.h"

#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond) \
  do {                \
    if (!(cond)) abort(); \
  } while (0)

static void split(const uint8_t *data, size_t size) {
  if (size < RV_VNET_HDR_LEN) return;
  rv_vnet h;
  rv_vnet_read(&h, data);
  size_t len = size - RV_VNET_HDR_LEN;
  uint8_t *pkt = malloc(len ? len : 1);
  memcpy(pkt, data + RV_VNET_HDR_LEN, len);
  rv_split s;
  long segments = rv_split_begin(&s, &h, pkt, len);
  if (segments >= 0) {
    static uint8_t out[RV_MAX_SEGMENT];
    long seen = 0;
    while (rv_split_more(&s)) {
      long n = rv_split_next(&s, out, 1500);
      REQUIRE(n <= 1500);
      if (n == 0) break;
      seen++;
      REQUIRE(seen <= segments);
    }
  }
  free(pkt);
}

static void coalesce(const uint8_t *data, size_t size) {
  rv_packet pkts[RV_GRO_MAX];
  uint8_t *copies[RV_GRO_MAX];
  size_t n = 0;
  while (n < RV_GRO_MAX && size >= 2) {
    size_t len = ((size_t)data[0] << 8 | data[1]) % 1500;
    data += 2;
    size -= 2;
    if (len > size) len = size;
    copies[n] = malloc(len ? len : 1);
    memcpy(copies[n], data, len);
    pkts[n].p = copies[n];
    pkts[n].len = (uint32_t)len;
    data += len;
    size -= len;
    n++;
  }
  uint16_t order[RV_GRO_MAX];
  rv_gro_group groups[RV_GRO_MAX];
  size_t count = rv_gro_plan(pkts, n, order, groups);
  REQUIRE(count <= n);
  uint8_t seen[RV_GRO_MAX] = {0};
  size_t total = 0;
  for (size_t g = 0; g < count; g++) {
    total += groups[g].count;
    for (size_t i = 0; i < groups[g].count; i++) {
      uint16_t k = order[groups[g].first + i];
      REQUIRE(k < n && !seen[k]);
      seen[k] = 1;
    }
    if (groups[g].count >= 2) {
      uint8_t header[RV_VNET_HDR_LEN + 100 + 64];
      size_t h = rv_gro_header(pkts, order, &groups[g], header);
      REQUIRE(h <= RV_VNET_HDR_LEN + 100);
    }
  }
  REQUIRE(total == n);
  for (size_t i = 0; i < n; i++) free(copies[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1) coalesce(data + 1, size - 1);
  else split(data + 1, size - 1);
  return 0;
}
