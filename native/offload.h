// TUN segmentation offloads, in plain C with no Node API so they can be fuzzed on their own
// (test/native/offload-fuzz.c): the virtio-net header a TUN with IFF_VNET_HDR puts before every
// packet, splitting a large TCP or UDP segment read from the TUN into packets that fit the
// mesh (as the NIC would in TSO/USO), and coalescing received packets of one TCP flow into one
// large segment for one TUN write (as GRO would). IPv6 only: rovy0 carries nothing else.
#ifndef ROVY_OFFLOAD_H
#define ROVY_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The virtio-net header (struct virtio_net_hdr), in the host's byte order as the TUN uses it.
#define RV_VNET_HDR_LEN 10
#define RV_VNET_F_NEEDS_CSUM 1
#define RV_VNET_GSO_NONE 0
#define RV_VNET_GSO_TCPV6 4
#define RV_VNET_GSO_UDP_L4 5
#define RV_VNET_GSO_ECN 0x80

typedef struct {
  uint8_t flags, gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
} rv_vnet;

void rv_vnet_read(rv_vnet *h, const uint8_t *p);
void rv_vnet_write(const rv_vnet *h, uint8_t *p);

// The largest IPv6 packet a TUN hands over or takes (payload length is 16 bits; no jumbograms).
#define RV_MAX_SEGMENT (40 + 65535)

// ---- splitting (TUN read) -----------------------------------------------------------------
// One packet read from the TUN, cut into packets of at most gso_size payload bytes each, with
// their own IPv6 payload length (or IPv4 total length, ID and header checksum), TCP sequence
// number and flags or UDP length, and a full checksum. A packet that is not a GSO packet is one
// "segment": copied, its checksum completed if the kernel left that to us. The state is plain numbers so it can be resumed from a copy.
typedef struct {
  const uint8_t *pkt;  // the packet, after the virtio-net header
  size_t len;
  size_t hdr;          // IPv6 + TCP/UDP header bytes repeated in every segment (GSO only)
  size_t mss;          // payload bytes per segment; 0 for a packet that is not split
  uint8_t proto;       // 6 TCP, 17 UDP (GSO only)
  size_t ip4;          // IPv4 header bytes of an IPv4 UDP packet being split (routed prefixes); 0 for IPv6
  size_t cursor;       // offset in pkt of the next segment's payload (or 0: the whole packet)
  size_t csum_start, csum_offset;  // checksum to complete on a whole packet; csum_start 0: none
} rv_split;

// Checks the header against the packet. Returns the number of segments, or -1 if the packet is
// malformed for what its header claims (then nothing is written).
long rv_split_begin(rv_split *s, const rv_vnet *h, const uint8_t *pkt, size_t len);
// Whether segments remain.
bool rv_split_more(const rv_split *s);
// Writes the next segment into out[0, cap) and returns its length; 0 if none remains; -1 if it
// does not fit in cap (it is skipped, the next call goes on with the one after).
long rv_split_next(rv_split *s, uint8_t *out, size_t cap);

// ---- coalescing (TUN write) ---------------------------------------------------------------
// Packets of one TCP flow that follow each other in sequence, of one size (the last may be
// shorter), with equal headers but for length, sequence number and PSH, become one segment:
// a virtio-net header with GSO_TCPV6, the first packet's headers (length, flags and checksum
// adjusted), then every packet's payload in order. Everything else is written alone.
#define RV_GRO_MAX 64  // packets considered at once (a batch)

typedef struct {
  const uint8_t *p;
  uint32_t len;
} rv_packet;

typedef struct {
  uint16_t first;       // index of the first packet of the group in `order`
  uint16_t count;       // packets in the group
  uint16_t hdr;         // header bytes of each packet (IPv6 + TCP); 0 for a packet that cannot coalesce
  uint16_t mss;         // payload bytes of each packet but the last
  uint32_t payload;     // payload bytes of all packets together
  bool push;            // some packet of the group had PSH
  bool closed;          // takes no more packets
} rv_gro_group;

// Sorts n (≤ RV_GRO_MAX) packets into groups: `order` gets the packets' indices group by group,
// groups[] the groups in the order their first packets came. Packets of one flow keep their
// order. Returns the number of groups.
size_t rv_gro_plan(const rv_packet *pkts, size_t n, uint16_t *order, rv_gro_group *groups);
// The virtio-net header and the headers of the coalesced packet of a group of two or more,
// written to out (at least RV_VNET_HDR_LEN + 100 bytes); returns their length. Its payload is
// each packet's bytes after g->hdr, in `order`.
size_t rv_gro_header(const rv_packet *pkts, const uint16_t *order, const rv_gro_group *g, uint8_t *out);

// ---- checksums ----------------------------------------------------------------------------
// The Internet checksum of an IPv6 TCP or UDP packet (pseudo-header included) is valid.
bool rv_l4_checksum_ok(const uint8_t *pkt, size_t len);

#endif
