// Fuzz-style tests of native/offload.c, built with AddressSanitizer and UBSan by
// test/unit/offload.test.ts: every input sits in a heap block of exactly its size, so a read or
// write one byte past it aborts the run. Checked:
//   - splitting well-formed TCP and UDP segments (and IPv4 UDP ones, for routed prefixes): the
//     pieces' payloads add up to the original,
//     every header is right (lengths, sequence numbers, flags, a checksum that a plain byte-wise
//     reference accepts), and coalescing the pieces gives back the original segment;
//   - coalescing: packets of several flows, interleaved, some damaged or of another kind: the
//     plan is a permutation, a flow's packets keep their order, every group of two or more is
//     one flow in sequence, and its header is what the kernel expects;
//   - malformed and boundary inputs of every length, header field and size: no crash, no access
//     outside the input, and nothing written past the space given.
// Usage: offload-fuzz [iterations] [seed]. Prints one summary line; exits 1 on the first failure.
#include "../../native/offload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }

#define CHECK(cond, ...)                                          \
  do {                                                            \
    if (!(cond)) {                                                \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                               \
      fprintf(stderr, "\n");                                      \
      exit(1);                                                    \
    }                                                             \
  } while (0)

// A copy of bytes in a heap block of exactly their length.
static uint8_t *exact(const uint8_t *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  if (n) memcpy(q, p, n);
  return q;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static size_t be16(const uint8_t *p) { return (size_t)p[0] << 8 | p[1]; }

// The reference: RFC 1071 over big-endian 16-bit words, pseudo-header included.
static int ref_checksum_ok(const uint8_t *ip, size_t len) {
  uint32_t sum = 0;
  size_t l4 = len - 40;
  for (size_t i = 8; i < 40; i += 2) sum += be16(ip + i);
  sum += (uint32_t)(l4 >> 16) + (uint32_t)(l4 & 0xffff) + ip[6];
  for (size_t i = 0; i < l4; i += 2) sum += (uint32_t)ip[40 + i] << 8 | (i + 1 < l4 ? ip[41 + i] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

// An IPv6 TCP or UDP packet with random addresses, ports, options and payload.
static size_t make_packet(uint8_t *p, uint8_t proto, size_t opt_words, size_t payload) {
  size_t l4hdr = proto == 6 ? 20 + 4 * opt_words : 8, len = 40 + l4hdr + payload;
  for (size_t i = 0; i < len; i++) p[i] = (uint8_t)rnd();
  p[0] = 0x60 | (p[0] & 0x0f);
  p[4] = (uint8_t)((len - 40) >> 8);
  p[5] = (uint8_t)(len - 40);
  p[6] = proto;
  if (proto == 6) {
    p[52] = (uint8_t)((l4hdr / 4) << 4);
    p[53] = 0x10 | (rnd() & 1 ? 0x08 : 0);  // ACK, maybe PSH
  } else {
    p[44] = (uint8_t)((len - 40) >> 8);
    p[45] = (uint8_t)(len - 40);
  }
  return len;
}

static void vnet_gso(rv_vnet *h, uint8_t type, size_t mss) {
  *h = (rv_vnet){.flags = RV_VNET_F_NEEDS_CSUM, .gso_type = type, .gso_size = (uint16_t)mss, .csum_start = 40,
                 .csum_offset = type == RV_VNET_GSO_TCPV6 ? 16 : 6};
}

static long split_all(const rv_vnet *h, const uint8_t *pkt, size_t len, uint8_t **segs, size_t *lens, size_t max) {
  rv_split s;
  long want = rv_split_begin(&s, h, pkt, len);
  if (want < 0) return want;
  size_t n = 0;
  while (rv_split_more(&s)) {
    CHECK(n < max, "more segments than the %ld announced", want);
    uint8_t tmp[RV_MAX_SEGMENT];
    long w = rv_split_next(&s, tmp, sizeof tmp);
    CHECK(w > 0, "segment %zu: %ld", n, w);
    segs[n] = exact(tmp, (size_t)w);
    lens[n++] = (size_t)w;
  }
  CHECK((long)n == want, "%zu segments, %ld announced", n, want);
  return (long)n;
}

// Splits a random well-formed segment and checks the pieces, then coalesces them back.
static void split_and_coalesce(void) {
  static uint8_t buf[RV_MAX_SEGMENT];
  uint8_t proto = rnd() & 3 ? 6 : 17;
  size_t opt = proto == 6 ? below(11) : 0, l4hdr = proto == 6 ? 20 + 4 * opt : 8;
  size_t hdr = 40 + l4hdr;
  size_t mss = 1 + below(rnd() & 1 ? 1500 : 9000);
  size_t max_payload = 65535 - l4hdr;
  // Up to 256 segments (a whole batch's worth four times over), and never past 64 KB.
  size_t most = mss * (rnd() & 3 ? 64 : 256);
  size_t payload = 1 + below((uint32_t)(most < max_payload ? most : max_payload));
  size_t len = make_packet(buf, proto, opt, payload);
  uint8_t *pkt = exact(buf, len);
  rv_vnet h;
  vnet_gso(&h, proto == 6 ? RV_VNET_GSO_TCPV6 : RV_VNET_GSO_UDP_L4, mss);
  size_t max = (payload + mss - 1) / mss;
  uint8_t **segs = calloc(max, sizeof *segs);
  size_t *lens = calloc(max, sizeof *lens);
  long n = split_all(&h, pkt, len, segs, lens, max);
  CHECK(n == (long)max, "%ld segments of %zu payload at mss %zu", n, payload, mss);
  size_t at = hdr;
  for (long i = 0; i < n; i++) {
    uint8_t *s = segs[i];
    size_t take = lens[i] - hdr;
    CHECK(take == (i + 1 < n ? mss : payload - mss * (size_t)(n - 1)), "segment %ld carries %zu", i, take);
    CHECK(memcmp(s + hdr, pkt + at, take) == 0, "segment %ld payload", i);
    CHECK(be16(s + 4) == lens[i] - 40, "segment %ld IPv6 length", i);
    CHECK(memcmp(s, pkt, 4) == 0 && memcmp(s + 6, pkt + 6, 34) == 0, "segment %ld IPv6 header", i);
    CHECK(ref_checksum_ok(s, lens[i]) && rv_l4_checksum_ok(s, lens[i]), "segment %ld checksum", i);
    if (proto == 6) {
      CHECK(be32(s + 44) == be32(pkt + 44) + (uint32_t)(at - hdr), "segment %ld sequence number", i);
      uint8_t want = pkt[53];
      if (i > 0) want &= (uint8_t)~0x80;
      if (i + 1 < n) want &= (uint8_t)~0x09;
      CHECK(s[53] == want, "segment %ld flags %02x, want %02x", i, s[53], want);
      CHECK(memcmp(s + 40, pkt + 40, 4) == 0 && memcmp(s + 48, pkt + 48, 5) == 0 && memcmp(s + 54, pkt + 54, 2) == 0 &&
                memcmp(s + 58, pkt + 58, hdr - 58) == 0,
            "segment %ld TCP header", i);
    } else {
      CHECK(be16(s + 44) == lens[i] - 40 && memcmp(s + 40, pkt + 40, 4) == 0, "segment %ld UDP header", i);
    }
    at += take;
  }
  CHECK(at == len, "payload covered to %zu of %zu", at, len);

  // Back together: a TCP segment's pieces (at most RV_GRO_MAX at a time) are one group each
  // time; anything else is written alone.
  for (long first = 0; first < n; first += RV_GRO_MAX) {
    size_t m = (size_t)(n - first < RV_GRO_MAX ? n - first : RV_GRO_MAX);
    rv_packet pk[RV_GRO_MAX];
    uint16_t order[RV_GRO_MAX];
    rv_gro_group groups[RV_GRO_MAX];
    for (size_t k = 0; k < m; k++) pk[k] = (rv_packet){segs[first + (long)k], (uint32_t)lens[first + (long)k]};
    size_t ng = rv_gro_plan(pk, m, order, groups);
    // The kernel's IPv6 length limit may close a group early.
    size_t packed = 0;
    for (size_t g = 0; g < ng; g++) packed += groups[g].count;
    CHECK(packed == m, "groups hold %zu of %zu", packed, m);
    if (proto != 6) {
      CHECK(ng == m, "UDP packets coalesced");
      continue;
    }
    CHECK(ng == 1, "%zu groups for %zu pieces of one segment", ng, m);
    for (size_t g = 0; g < ng; g++) {
      if (groups[g].count < 2) continue;
      uint8_t *head = malloc(RV_VNET_HDR_LEN + hdr);
      size_t hl = rv_gro_header(pk, order, &groups[g], head);
      CHECK(hl == RV_VNET_HDR_LEN + hdr, "header length %zu", hl);
      rv_vnet v;
      rv_vnet_read(&v, head);
      CHECK(v.gso_type == RV_VNET_GSO_TCPV6 && v.gso_size == groups[g].mss && v.hdr_len == hdr && v.csum_start == 40 &&
                v.csum_offset == 16 && v.flags == RV_VNET_F_NEEDS_CSUM,
            "virtio header");
      const uint8_t *ip = head + RV_VNET_HDR_LEN;
      CHECK(be16(ip + 4) == hdr - 40 + groups[g].payload, "coalesced length");
      CHECK(be32(ip + 44) == be32(pk[order[groups[g].first]].p + 44), "coalesced sequence number");
      free(head);
    }
  }
  for (long i = 0; i < n; i++) free(segs[i]);
  free(segs);
  free(lens);
  free(pkt);
}

// Coalescing packets of a few flows, interleaved, with damaged and other packets among them.
static void coalesce_mixed(void) {
  static uint8_t base[4][RV_MAX_SEGMENT];
  size_t mss[4];
  uint32_t seq[4];
  // Now and then one flow of full-size packets, a whole batch: more than 64 KB, two groups.
  bool bulk = rnd() % 8 == 0;
  size_t flows = bulk ? 1 : 1 + below(4);
  for (size_t f = 0; f < flows; f++) {
    mss[f] = bulk ? 1440 : 1 + below(1400);
    make_packet(base[f], 6, below(4), mss[f]);
    base[f][53] = 0x10;  // ACK
    seq[f] = be32(base[f] + 44);
  }
  size_t n = bulk ? RV_GRO_MAX : 1 + below(RV_GRO_MAX);
  rv_packet pk[RV_GRO_MAX];
  uint8_t flow_of[RV_GRO_MAX];
  for (size_t i = 0; i < n; i++) {
    size_t f = below((uint32_t)flows);
    flow_of[i] = (uint8_t)f;
    uint8_t p[RV_MAX_SEGMENT];
    size_t hdr = 40 + (size_t)(base[f][52] >> 4) * 4;
    memcpy(p, base[f], hdr);
    size_t payload = bulk || rnd() % 8 ? mss[f] : 1 + below((uint32_t)mss[f]);
    size_t len = hdr + payload;
    for (size_t k = hdr; k < len; k++) p[k] = (uint8_t)rnd();
    p[4] = (uint8_t)((len - 40) >> 8);
    p[5] = (uint8_t)(len - 40);
    p[44] = (uint8_t)(seq[f] >> 24), p[45] = (uint8_t)(seq[f] >> 16), p[46] = (uint8_t)(seq[f] >> 8), p[47] = (uint8_t)seq[f];
    seq[f] += (uint32_t)payload;
    if (!bulk && rnd() % 16 == 0) p[53] |= 0x08;  // PSH: ends the group
    // Now and then a header that must not join its flow's group, checksum still valid.
    switch (bulk ? 99 : rnd() % 32) {
      case 0: p[53] |= 0x02; break;                  // SYN
      case 1: p[53] |= 0x20; break;                  // URG
      case 2: p[7] ^= 1; break;                      // hop limit
      case 3: p[1] ^= 0x10; break;                   // traffic class
      case 4: p[49] ^= 1; break;                     // acknowledgment number
      case 5: p[55] ^= 1; break;                     // window
      case 6: if (hdr > 60) p[hdr - 1] ^= 1; break;  // options
      case 7: p[6] = 17; break;                      // not TCP
    }
    // A valid checksum, completed the way the splitter does for the kernel.
    rv_vnet h = {.flags = RV_VNET_F_NEEDS_CSUM, .csum_start = 40, .csum_offset = p[6] == 6 ? 16 : 6};
    uint32_t sum = 0;
    for (size_t k = 8; k < 40; k += 2) sum += (uint32_t)be16(p + k);
    sum += (uint32_t)(len - 40) + p[6];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    p[40 + h.csum_offset] = (uint8_t)(sum >> 8), p[41 + h.csum_offset] = (uint8_t)sum;
    rv_split s;
    CHECK(rv_split_begin(&s, &h, p, len) == 1, "whole packet");
    uint8_t done[RV_MAX_SEGMENT];
    CHECK(rv_split_next(&s, done, sizeof done) == (long)len, "whole packet copy");
    CHECK(ref_checksum_ok(done, len), "checksum completed");
    switch (bulk ? 99 : rnd() % 32) {
      case 0: done[60 + below((uint32_t)(len - 60))] ^= 1; break;  // a bad checksum
      case 1: len = 40 + below(40); break;                         // cut short
    }
    pk[i] = (rv_packet){exact(done, len), (uint32_t)len};
  }
  uint16_t order[RV_GRO_MAX];
  rv_gro_group groups[RV_GRO_MAX];
  size_t ng = rv_gro_plan(pk, n, order, groups);
  if (bulk) CHECK(ng == 2, "64 full packets of one flow make %zu groups", ng);
  bool seen[RV_GRO_MAX] = {0};
  size_t total = 0;
  int last_in_flow[4] = {-1, -1, -1, -1};
  for (size_t g = 0; g < ng; g++) {
    const rv_gro_group *gg = &groups[g];
    CHECK(gg->count >= 1 && gg->first == total, "group %zu at %u of %zu", g, gg->first, total);
    for (size_t k = 0; k < gg->count; k++) {
      uint16_t i = order[gg->first + k];
      CHECK(i < n && !seen[i], "order is a permutation");
      seen[i] = true;
      // A flow's packets leave in the order they came (a packet that is not TCP has no flow).
      if (pk[i].len >= 60 && pk[i].p[6] == 6) {
        CHECK((int)i > last_in_flow[flow_of[i]], "flow %u reordered", flow_of[i]);
        last_in_flow[flow_of[i]] = i;
      }
    }
    total += gg->count;
    if (gg->count < 2) continue;
    const uint8_t *first = pk[order[gg->first]].p;
    uint32_t next = be32(first + 44);
    uint32_t sum = 0;
    for (size_t k = 0; k < gg->count; k++) {
      const uint8_t *p = pk[order[gg->first + k]].p;
      size_t len = pk[order[gg->first + k]].len;
      CHECK(flow_of[order[gg->first + k]] == flow_of[order[gg->first]], "one flow per group");
      CHECK(rv_l4_checksum_ok(p, len) && ref_checksum_ok(p, len), "only valid checksums coalesce");
      CHECK(p[6] == 6 && (p[53] & ~0x08) == 0x10, "only ACK and PSH coalesce");
      CHECK(memcmp(p, first, 4) == 0 && p[7] == first[7] && memcmp(p + 48, first + 48, 5) == 0 &&
                memcmp(p + 54, first + 54, 2) == 0 && memcmp(p + 58, first + 58, gg->hdr - 58) == 0,
            "headers equal but for length, sequence and PSH");
      CHECK(be32(p + 44) == next, "in sequence");
      CHECK(k + 1 == gg->count || !(p[53] & 0x08), "PSH ends a group");
      size_t payload = len - gg->hdr;
      CHECK(k + 1 == gg->count ? payload <= gg->mss : payload == gg->mss, "segment sizes");
      next += (uint32_t)payload;
      sum += (uint32_t)payload;
    }
    CHECK(sum == gg->payload && gg->hdr - 40 + sum <= 65535, "group payload %u", sum);
    uint8_t *head = malloc(RV_VNET_HDR_LEN + gg->hdr);
    rv_gro_header(pk, order, gg, head);
    free(head);
  }
  CHECK(total == n, "%zu of %zu packets planned", total, n);
  for (size_t i = 0; i < n; i++) free((void *)pk[i].p);
}

// Every length of a well-formed TCP and UDP segment's headers cut short, every checksum position
// at the end of a packet, and output space of exactly a segment and one byte less.
static void boundaries(void) {
  uint8_t buf[200];
  for (int proto = 6; proto <= 17; proto += 11) {
    size_t full = make_packet(buf, (uint8_t)proto, proto == 6 ? 2 : 0, 100);
    size_t hdr = full - 100;
    rv_vnet h;
    vnet_gso(&h, proto == 6 ? RV_VNET_GSO_TCPV6 : RV_VNET_GSO_UDP_L4, 30);
    for (size_t len = 0; len <= full; len++) {
      uint8_t *pkt = exact(buf, len);
      rv_split s;
      long want = rv_split_begin(&s, &h, pkt, len);
      CHECK(len > hdr ? want == (long)((len - hdr + 29) / 30) : want == -1, "%zu bytes of %d: %ld", len, proto, want);
      for (long i = 0; i < want; i++) {
        size_t seg = hdr + (i + 1 < want ? 30 : len - hdr - 30 * (size_t)i);
        uint8_t *out = malloc(seg);
        rv_split t = s;
        CHECK(rv_split_next(&t, out, seg - 1) == -1, "segment %ld into one byte less", i);
        CHECK(rv_split_next(&s, out, seg) == (long)seg, "segment %ld into its size", i);
        free(out);
      }
      free(pkt);
    }
    // The checksum the kernel leaves to us, at every place near the end.
    for (size_t start = 0; start <= full + 2; start++) {
      for (size_t at = 0; at < 24; at++) {
        rv_vnet c = {.flags = RV_VNET_F_NEEDS_CSUM, .csum_start = (uint16_t)start, .csum_offset = (uint16_t)at};
        uint8_t *pkt = exact(buf, full);
        rv_split s;
        long want = rv_split_begin(&s, &c, pkt, full);
        CHECK(want == (start > 0 && start + at + 2 <= full ? 1 : -1), "checksum at %zu+%zu of %zu: %ld", start, at, full, want);
        if (want == 1) {
          uint8_t *out = malloc(full);
          CHECK(rv_split_next(&s, out, full) == (long)full, "whole packet");
          free(out);
        }
        free(pkt);
      }
    }
  }
}

// Anything at all: random bytes and headers, lengths at and around every boundary.
static void malformed(void) {
  static const size_t edges[] = {0, 1, 9, 39, 40, 41, 47, 48, 59, 60, 61, 99, 100, 1280, 1420, 1500, 65574, RV_MAX_SEGMENT};
  uint8_t buf[RV_MAX_SEGMENT];
  size_t len = rnd() & 1 ? edges[below(sizeof edges / sizeof edges[0])] : below(RV_MAX_SEGMENT + 1);
  size_t keep = rnd() & 1 ? len : 120;  // random bytes, or a header that looks right at first
  for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rnd();
  if (keep < len && len >= 60) {
    buf[0] = 0x60;
    buf[6] = rnd() & 1 ? 6 : 17;
    buf[52] = (uint8_t)(below(16) << 4);
  }
  uint8_t *pkt = exact(buf, len);
  rv_vnet h;
  uint8_t raw[RV_VNET_HDR_LEN];
  for (size_t i = 0; i < sizeof raw; i++) raw[i] = (uint8_t)rnd();
  rv_vnet_read(&h, raw);
  if (rnd() & 1) h.gso_type = (uint8_t[]){0, 4, 5, 1, 3, 0x84, 0x85}[below(7)];
  if (rnd() & 1) h.flags = (uint8_t)below(4);
  if (rnd() & 1) h.csum_start = (uint16_t)(len - below(64));
  if (rnd() & 1) h.csum_offset = (uint16_t)below(20);
  if (rnd() & 1) h.gso_size = (uint16_t)(rnd() & 1 ? below(4) : 65535 - below(4));
  rv_split s;
  long want = rv_split_begin(&s, &h, pkt, len);
  if (want >= 0) {
    size_t cap = (size_t[]){RV_MAX_SEGMENT, below(2000), len}[below(3)];  // len: not one byte to spare
    uint8_t *out = malloc(cap ? cap : 1);
    long got = 0, most = want < 300 ? want + 1 : 300;  // a 1-byte gso_size makes 65,000: enough of those
    while (rv_split_more(&s) && got < most) {
      long w = rv_split_next(&s, out, cap);
      CHECK(w == -1 || (w > 0 && (size_t)w <= cap) || (w == 0 && len == 0), "wrote %ld into %zu", w, cap);
      got++;
    }
    CHECK(got == want || (want >= 300 && got == 300), "%ld segments of %ld", got, want);
    free(out);
  }
  rv_packet pk[RV_GRO_MAX];
  size_t n = 1 + below(8);
  pk[0] = (rv_packet){pkt, (uint32_t)len};
  for (size_t i = 1; i < n; i++) pk[i] = pk[0];  // the same packet again: not in sequence
  uint16_t order[RV_GRO_MAX];
  rv_gro_group groups[RV_GRO_MAX];
  size_t ng = rv_gro_plan(pk, n, order, groups);
  CHECK(ng == n, "%zu copies of one packet made %zu groups", n, ng);
  free(pkt);
}

// The reference for IPv4: RFC 1071 over big-endian words, of the header, and of UDP with its
// pseudo-header (RFC 768).
static size_t ref_sum(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i < n; i += 2) sum += (uint32_t)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// Splits a random IPv4 UDP GSO packet (options, any ID, DF or not) and checks every piece: its
// payload, total length, IP ID one further each, header checksum, UDP length and checksum.
static void split_ipv4_udp(void) {
  static uint8_t buf[65535];
  size_t ihl = 20 + 4 * below(11), mss = 1 + below(rnd() & 1 ? 1472 : 9000);
  size_t payload = 1 + below((uint32_t)(65535 - ihl - 8 < mss * 64 ? 65535 - ihl - 8 : mss * 64));
  size_t len = ihl + 8 + payload;
  for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rnd();
  buf[0] = (uint8_t)(0x40 | ihl / 4);
  buf[2] = (uint8_t)(len >> 8);
  buf[3] = (uint8_t)len;
  buf[6] = rnd() & 1 ? 0x40 : 0;  // DF or not; never a fragment
  buf[7] = 0;
  buf[9] = 17;
  uint8_t *pkt = exact(buf, len);
  rv_vnet h;
  vnet_gso(&h, RV_VNET_GSO_UDP_L4, mss);
  h.csum_start = (uint16_t)ihl;
  size_t max = (payload + mss - 1) / mss;
  uint8_t **segs = calloc(max, sizeof *segs);
  size_t *lens = calloc(max, sizeof *lens);
  long n = split_all(&h, pkt, len, segs, lens, max);
  CHECK(n == (long)max, "IPv4: %ld segments of %zu payload at mss %zu", n, payload, mss);
  size_t at = ihl + 8;
  for (long i = 0; i < n; i++) {
    uint8_t *s = segs[i];
    size_t take = lens[i] - ihl - 8;
    CHECK(take == (i + 1 < n ? mss : payload - mss * (size_t)(n - 1)), "IPv4 segment %ld carries %zu", i, take);
    CHECK(memcmp(s + ihl + 8, pkt + at, take) == 0, "IPv4 segment %ld payload", i);
    CHECK(be16(s + 2) == lens[i], "IPv4 segment %ld total length", i);
    CHECK(be16(s + 4) == ((be16(pkt + 4) + (size_t)i) & 0xffff), "IPv4 segment %ld ID", i);
    CHECK(ref_sum(s, ihl, 0) == 0xffff, "IPv4 segment %ld header checksum", i);
    CHECK(memcmp(s + 6, pkt + 6, 4) == 0 && memcmp(s + 12, pkt + 12, ihl - 12) == 0, "IPv4 segment %ld header", i);
    CHECK(be16(s + ihl + 4) == lens[i] - ihl && memcmp(s + ihl, pkt + ihl, 4) == 0, "IPv4 segment %ld UDP header", i);
    size_t l4 = lens[i] - ihl;
    uint32_t pseudo = (uint32_t)(be16(s + 12) + be16(s + 14) + be16(s + 16) + be16(s + 18) + 17 + l4);
    CHECK(ref_sum(s + ihl, l4, pseudo) == 0xffff, "IPv4 segment %ld UDP checksum", i);
    at += take;
    free(s);
  }
  CHECK(at == len, "IPv4 payload covered to %zu of %zu", at, len);
  // A fragment is never a GSO packet: refused, nothing written.
  pkt[7] = 1;
  rv_split sp;
  CHECK(rv_split_begin(&sp, &h, pkt, len) == -1, "an IPv4 fragment split");
  free(segs);
  free(lens);
  free(pkt);
}

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 2000;
  unsigned long long seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 24301;
  rng_state = seed ? seed : 1;
  boundaries();
  for (long i = 0; i < iterations; i++) {
    split_and_coalesce();
    split_ipv4_udp();
    coalesce_mixed();
    for (int k = 0; k < 8; k++) malformed();
  }
  printf("offload-fuzz: %ld iterations, seed %llu: ok\n", iterations, seed);
  return 0;
}
