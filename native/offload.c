// TUN segmentation offloads: see offload.h. Every length read from a packet is checked against
// the bytes there are before it is used; the fuzz test runs this file under AddressSanitizer.
#include "offload.h"

#include <string.h>

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80
#define PROTO_TCP 6
#define PROTO_UDP 17
#define IPV6_HDR 40
#define TCP_CSUM 16  // the checksum's offset in a TCP header
#define UDP_CSUM 6

void rv_vnet_read(rv_vnet *h, const uint8_t *p) {
  h->flags = p[0];
  h->gso_type = p[1];
  memcpy(&h->hdr_len, p + 2, 2);
  memcpy(&h->gso_size, p + 4, 2);
  memcpy(&h->csum_start, p + 6, 2);
  memcpy(&h->csum_offset, p + 8, 2);
}

void rv_vnet_write(const rv_vnet *h, uint8_t *p) {
  p[0] = h->flags;
  p[1] = h->gso_type;
  memcpy(p + 2, &h->hdr_len, 2);
  memcpy(p + 4, &h->gso_size, 2);
  memcpy(p + 6, &h->csum_start, 2);
  memcpy(p + 8, &h->csum_offset, 2);
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void put_be16(uint8_t *p, size_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v) {
  put_be16(p, v >> 16);
  put_be16(p + 2, v & 0xffff);
}

// ---- checksums ----
// The ones' complement sum is the same in either byte order once folded, so words are added as
// the host loads them and the result is stored the same way. Only the last chunk may be odd.

static uint64_t sum_bytes(uint64_t sum, const uint8_t *p, size_t n) {
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    sum += (w & 0xffffffffu) + (w >> 32);
  }
  for (; n >= 2; p += 2, n -= 2) {  // the last 2 to 7 bytes
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
  }
  if (n == 1) {
    uint16_t w = 0;
    memcpy(&w, p, 1);
    sum += w;
  }
  return sum;
}

static uint16_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

// The IPv6 pseudo-header (RFC 8200 8.1) of the packet at ip for an upper layer of l4len bytes.
static uint64_t pseudo_sum(const uint8_t *ip, size_t l4len, uint8_t proto) {
  uint8_t tail[8] = {0};
  put_be32(tail, (uint32_t)l4len);
  tail[7] = proto;
  return sum_bytes(sum_bytes(0, ip + 8, 32), tail, 8);
}

static void store_csum(uint8_t *p, uint16_t c) { memcpy(p, &c, 2); }

// Computes and stores the checksum of the IPv6 packet at ip, whose upper layer (proto) starts
// right after the fixed header.
static void set_l4_csum(uint8_t *ip, size_t len, uint8_t proto) {
  size_t at = IPV6_HDR + (proto == PROTO_TCP ? TCP_CSUM : UDP_CSUM);
  ip[at] = ip[at + 1] = 0;
  uint16_t c = (uint16_t)~fold(sum_bytes(pseudo_sum(ip, len - IPV6_HDR, proto), ip + IPV6_HDR, len - IPV6_HDR));
  if (proto == PROTO_UDP && c == 0) c = 0xffff;  // 0 means "no checksum" in UDP
  store_csum(ip + at, c);
}

bool rv_l4_checksum_ok(const uint8_t *pkt, size_t len) {
  if (len < IPV6_HDR || (pkt[6] != PROTO_TCP && pkt[6] != PROTO_UDP)) return false;
  return fold(sum_bytes(pseudo_sum(pkt, len - IPV6_HDR, pkt[6]), pkt + IPV6_HDR, len - IPV6_HDR)) == 0xffff;
}

// ---- splitting ----

long rv_split_begin(rv_split *s, const rv_vnet *h, const uint8_t *pkt, size_t len) {
  memset(s, 0, sizeof *s);
  s->pkt = pkt;
  s->len = len;
  uint8_t type = h->gso_type & (uint8_t)~RV_VNET_GSO_ECN;
  if (type == RV_VNET_GSO_NONE) {
    if (h->flags & RV_VNET_F_NEEDS_CSUM) {
      // The kernel left the sum over [csum_start, len) for us, the pseudo-header's part already
      // in the checksum field.
      size_t start = h->csum_start, at = h->csum_offset;
      if (start == 0 || start > len || at > len - start || len - start - at < 2) return -1;
      s->csum_start = start;
      s->csum_offset = at;
    }
    return 1;
  }
  if (type != RV_VNET_GSO_TCPV6 && type != RV_VNET_GSO_UDP_L4) return -1;
  // IPv4 comes only as UDP (the kernel takes UDP segmentation for both families or neither; TCP
  // segmentation is asked for IPv6 alone), for routed prefixes.
  if (type == RV_VNET_GSO_UDP_L4 && len >= 20 && pkt[0] >> 4 == 4) {
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
    if (ihl < 20 || pkt[9] != PROTO_UDP || len < ihl + 8 || ((size_t)pkt[2] << 8 | pkt[3]) != len) return -1;
    if ((pkt[6] & 0x3f) | pkt[7]) return -1;  // a fragment (MF, or an offset) is never a GSO packet
    s->ip4 = ihl;
    s->hdr = ihl + 8;
    if (s->hdr >= len || h->gso_size == 0) return -1;
    s->mss = h->gso_size;
    s->proto = PROTO_UDP;
    s->cursor = s->hdr;
    return (long)((len - s->hdr + s->mss - 1) / s->mss);
  }
  // Only what the kernel's own TCP and UDP send: the upper layer right after the fixed header.
  if (len < IPV6_HDR + 8 || pkt[0] >> 4 != 6) return -1;
  uint8_t proto = type == RV_VNET_GSO_TCPV6 ? PROTO_TCP : PROTO_UDP;
  if (pkt[6] != proto) return -1;
  size_t l4hdr = 8;
  if (proto == PROTO_TCP) {
    if (len < IPV6_HDR + 20) return -1;
    l4hdr = (size_t)(pkt[IPV6_HDR + 12] >> 4) * 4;
    if (l4hdr < 20) return -1;
  }
  size_t hdr = IPV6_HDR + l4hdr;
  if (hdr >= len || h->gso_size == 0) return -1;
  s->hdr = hdr;
  s->mss = h->gso_size;
  s->proto = proto;
  s->cursor = hdr;
  return (long)((len - hdr + s->mss - 1) / s->mss);
}

bool rv_split_more(const rv_split *s) { return s->mss ? s->cursor < s->len : s->cursor == 0; }

static long whole_packet(rv_split *s, uint8_t *out, size_t cap) {
  s->cursor = 1;  // emitted
  if (s->len > cap) return -1;
  memcpy(out, s->pkt, s->len);
  if (s->csum_start) {
    size_t at = s->csum_start + s->csum_offset;
    uint16_t c = (uint16_t)~fold(sum_bytes(0, out + s->csum_start, s->len - s->csum_start));
    if (s->csum_offset == UDP_CSUM && c == 0) c = 0xffff;
    store_csum(out + at, c);
  }
  return (long)s->len;
}

// An IPv4 UDP segment at out (its headers and payload in place): its total length, an IP ID one
// further per segment (as the kernel's own segmentation numbers them), its header checksum, UDP
// length and UDP checksum over the IPv4 pseudo-header (RFC 768).
static long ipv4_udp_segment(const rv_split *s, uint8_t *out, size_t seg, size_t from) {
  size_t ihl = s->ip4;
  put_be16(out + 2, (uint16_t)seg);
  put_be16(out + 4, (uint16_t)(((size_t)s->pkt[4] << 8 | s->pkt[5]) + (from - s->hdr) / s->mss));
  out[10] = out[11] = 0;
  store_csum(out + 10, (uint16_t)~fold(sum_bytes(0, out, ihl)));
  uint8_t *udp = out + ihl;
  size_t l4len = seg - ihl;
  put_be16(udp + 4, (uint16_t)l4len);
  udp[6] = udp[7] = 0;
  uint8_t tail[4] = {0, PROTO_UDP, 0, 0};
  put_be16(tail + 2, (uint16_t)l4len);
  uint16_t c = (uint16_t)~fold(sum_bytes(sum_bytes(sum_bytes(0, out + 12, 8), tail, 4), udp, l4len));
  if (c == 0) c = 0xffff;  // 0 means "no checksum" in UDP
  store_csum(udp + 6, c);
  return (long)seg;
}

long rv_split_next(rv_split *s, uint8_t *out, size_t cap) {
  if (!rv_split_more(s)) return 0;
  if (s->mss == 0) return whole_packet(s, out, cap);
  size_t from = s->cursor, take = s->len - from < s->mss ? s->len - from : s->mss;
  size_t seg = s->hdr + take;
  s->cursor += take;
  if (seg > cap) return -1;
  memcpy(out, s->pkt, s->hdr);
  memcpy(out + s->hdr, s->pkt + from, take);
  if (s->ip4) return ipv4_udp_segment(s, out, seg, from);
  put_be16(out + 4, seg - IPV6_HDR);
  uint8_t *l4 = out + IPV6_HDR;
  if (s->proto == PROTO_TCP) {
    put_be32(l4 + 4, be32(l4 + 4) + (uint32_t)(from - s->hdr));
    // As TSO does: CWR on the first segment only, FIN and PSH on the last only.
    if (from != s->hdr) l4[13] &= (uint8_t)~TCP_CWR;
    if (s->cursor != s->len) l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
  } else {
    put_be16(l4 + 4, seg - IPV6_HDR);
  }
  set_l4_csum(out, seg, s->proto);
  return (long)seg;
}

// ---- coalescing ----

// Header bytes of a packet that may be coalesced: IPv6 with TCP right after the fixed header,
// its length consistent, ACK and at most PSH set, a payload, and a valid checksum (the kernel
// will trust the coalesced packet's, so each part's is checked here). 0 for any other packet.
static size_t tcp_candidate(const uint8_t *p, size_t len) {
  if (len < IPV6_HDR + 20 || len > RV_MAX_SEGMENT || p[0] >> 4 != 6 || p[6] != PROTO_TCP) return 0;
  if (((size_t)p[4] << 8 | p[5]) != len - IPV6_HDR) return 0;
  size_t hdr = IPV6_HDR + (size_t)(p[IPV6_HDR + 12] >> 4) * 4;
  uint8_t flags = p[IPV6_HDR + 13];
  if (hdr < IPV6_HDR + 20 || hdr >= len || (flags & ~(TCP_ACK | TCP_PSH)) || !(flags & TCP_ACK)) return 0;
  return rv_l4_checksum_ok(p, len) ? hdr : 0;
}

// Same addresses and ports.
static bool same_flow(const uint8_t *a, const uint8_t *b) {
  return memcmp(a + 8, b + 8, 32) == 0 && memcmp(a + IPV6_HDR, b + IPV6_HDR, 4) == 0;
}

// Of one flow, equal in everything coalescing keeps from the first packet: traffic class and
// flow label, hop limit, acknowledgment, header length, flags but PSH, window, urgent pointer
// and options.
static bool same_headers(const uint8_t *a, const uint8_t *b, size_t hdr) {
  const uint8_t *ta = a + IPV6_HDR, *tb = b + IPV6_HDR;
  return memcmp(a, b, 4) == 0 && a[7] == b[7] && memcmp(ta + 8, tb + 8, 5) == 0 && ((ta[13] ^ tb[13]) & ~TCP_PSH) == 0 &&
         memcmp(ta + 14, tb + 14, 2) == 0 && memcmp(ta + 18, tb + 18, hdr - IPV6_HDR - 18) == 0;
}

size_t rv_gro_plan(const rv_packet *pkts, size_t n, uint16_t *order, rv_gro_group *groups) {
  uint16_t next[RV_GRO_MAX], head[RV_GRO_MAX], tail[RV_GRO_MAX];
  uint32_t next_seq[RV_GRO_MAX];
  size_t ng = 0;
  if (n > RV_GRO_MAX) n = RV_GRO_MAX;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *p = pkts[i].p;
    size_t hdr = tcp_candidate(p, pkts[i].len);
    size_t payload = hdr ? pkts[i].len - hdr : 0;
    next[i] = UINT16_MAX;
    bool tcp = pkts[i].len >= IPV6_HDR + 20 && p[0] >> 4 == 6 && p[6] == PROTO_TCP;
    if (!tcp && pkts[i].len >= IPV6_HDR && p[0] >> 4 == 6) {
      // Between the same two addresses but not plain TCP (an extension header first, perhaps
      // TCP behind it): no group of theirs grows past it, so nothing is written before it.
      for (size_t g = 0; g < ng; g++) {
        if (groups[g].hdr != 0 && memcmp(pkts[head[g]].p + 8, p + 8, 32) == 0) groups[g].closed = true;
      }
    }
    if (tcp) {
      // Only the flow's latest group may grow, and any other packet of the flow (a SYN, a FIN, a
      // bare ACK) ends it: a flow's packets stay in order.
      for (size_t g = ng; g-- > 0;) {
        rv_gro_group *gg = &groups[g];
        const uint8_t *first = pkts[head[g]].p;
        if (gg->hdr == 0 || !same_flow(first, p)) continue;
        bool joins = hdr && !gg->closed && gg->hdr == hdr && same_headers(first, p, hdr) && be32(p + IPV6_HDR + 4) == next_seq[g] &&
                     payload <= gg->mss && gg->count < RV_GRO_MAX && hdr - IPV6_HDR + gg->payload + payload <= 65535;
        if (!joins) {
          gg->closed = true;
          break;
        }
        next[tail[g]] = (uint16_t)i;
        tail[g] = (uint16_t)i;
        gg->count++;
        gg->payload += (uint32_t)payload;
        next_seq[g] += (uint32_t)payload;
        bool push = p[IPV6_HDR + 13] & TCP_PSH;
        gg->push |= push;
        gg->closed = push || payload < gg->mss;
        goto placed;
      }
    }
    {
      rv_gro_group *gg = &groups[ng];
      bool push = hdr && (p[IPV6_HDR + 13] & TCP_PSH);
      *gg = (rv_gro_group){.count = 1, .hdr = (uint16_t)hdr, .mss = (uint16_t)payload, .payload = (uint32_t)payload,
                           .push = push, .closed = !hdr || push};
      head[ng] = tail[ng] = (uint16_t)i;
      next_seq[ng] = hdr ? be32(p + IPV6_HDR + 4) + (uint32_t)payload : 0;
      ng++;
    }
  placed:;
  }
  size_t at = 0;
  for (size_t g = 0; g < ng; g++) {
    groups[g].first = (uint16_t)at;
    for (uint16_t i = head[g]; i != UINT16_MAX; i = next[i]) order[at++] = i;
  }
  return ng;
}

size_t rv_gro_header(const rv_packet *pkts, const uint16_t *order, const rv_gro_group *g, uint8_t *out) {
  rv_vnet h = {.flags = RV_VNET_F_NEEDS_CSUM, .gso_type = RV_VNET_GSO_TCPV6, .hdr_len = g->hdr, .gso_size = g->mss,
               .csum_start = IPV6_HDR, .csum_offset = TCP_CSUM};
  rv_vnet_write(&h, out);
  uint8_t *ip = out + RV_VNET_HDR_LEN;
  memcpy(ip, pkts[order[g->first]].p, g->hdr);
  size_t l4len = g->hdr - IPV6_HDR + g->payload;
  put_be16(ip + 4, l4len);
  if (g->push) ip[IPV6_HDR + 13] |= TCP_PSH;
  // A partial checksum, as the kernel keeps one: the pseudo-header's sum, not complemented; the
  // kernel trusts it since every part's own checksum was checked.
  store_csum(ip + IPV6_HDR + TCP_CSUM, fold(pseudo_sum(ip, l4len, PROTO_TCP)));
  return RV_VNET_HDR_LEN + g->hdr;
}
