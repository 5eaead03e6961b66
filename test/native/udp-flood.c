// A paced UDP flood for the handshake-flood test: sends the given datagrams round-robin to one
// IPv4 destination at a fixed rate for a fixed time, from one or more source addresses (one
// socket bound to each), in sendmmsg batches of at most 64. Prints how many it sent.
//
//   udp-flood DEST PORT PPS SECONDS FILE SIZE SRC [SRC...]
//
// FILE holds the datagrams back to back, SIZE bytes each.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what) {
  perror(what);
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: udp-flood DEST PORT PPS SECONDS FILE SIZE SRC [SRC...]\n");
    return 2;
  }
  struct sockaddr_in dest = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &dest.sin_addr) != 1) fail("destination");
  const double pps = atof(argv[3]);
  const double seconds = atof(argv[4]);
  const size_t size = (size_t)atol(argv[6]);

  FILE *file = fopen(argv[5], "rb");
  if (!file) fail("datagram file");
  static unsigned char data[1 << 20];
  const size_t total = fread(data, 1, sizeof data, file);
  fclose(file);
  const size_t count = size ? total / size : 0;
  if (count == 0) {
    fprintf(stderr, "udp-flood: no datagrams of %zu bytes in %s\n", size, argv[5]);
    return 2;
  }

  const int sources = argc - 7;
  int *sockets = calloc((size_t)sources, sizeof(int));
  for (int s = 0; s < sources; s++) {
    struct sockaddr_in src = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, argv[7 + s], &src.sin_addr) != 1) fail("source");
    sockets[s] = socket(AF_INET, SOCK_DGRAM, 0);
    if (sockets[s] < 0) fail("socket");
    if (bind(sockets[s], (struct sockaddr *)&src, sizeof src) != 0) fail("bind");
  }

  struct mmsghdr messages[BATCH];
  struct iovec iov[BATCH];
  memset(messages, 0, sizeof messages);
  for (int i = 0; i < BATCH; i++) {
    messages[i].msg_hdr.msg_name = &dest;
    messages[i].msg_hdr.msg_namelen = sizeof dest;
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }

  // Each batch goes out when the schedule says that many datagrams are due; between batches the
  // sender sleeps 100 µs, so the rate holds without spinning a core.
  const double start = now_seconds();
  unsigned long long scheduled = 0, sent = 0, errors = 0;
  size_t next = 0;
  int source = 0;
  for (;;) {
    const double elapsed = now_seconds() - start;
    if (elapsed >= seconds) break;
    const unsigned long long due = (unsigned long long)(elapsed * pps) - scheduled;
    if (due == 0) {
      usleep(100);
      continue;
    }
    const int n = due < BATCH ? (int)due : BATCH;
    for (int i = 0; i < n; i++) {
      iov[i].iov_base = data + next * size;
      iov[i].iov_len = size;
      next = (next + 1) % count;
    }
    const int done = sendmmsg(sockets[source], messages, (unsigned)n, 0);
    source = (source + 1) % sources;
    // A full socket buffer or an ICMP error from the target is part of flooding: count, go on.
    scheduled += (unsigned long long)n;
    if (done < 0) errors++;
    else sent += (unsigned long long)done;
  }
  printf("udp-flood: sent %llu in %.2f s, %llu send errors\n", sent, now_seconds() - start, errors);
  return 0;
}
