// How much work each wakeup, system call and AEAD call does on the data path. The pipelines count
// wakeups and batches; the addon counts system calls and AEAD calls (for the whole process: one
// daemon is one node). Read on demand by Describe() and `rovy status --json`: more packets per
// call is what batching and the offloads are for, and these show whether they happen.
import { native } from '../native/addon.js';
import { CounterSet } from '../util/counters.js';

export class DataPathCounters extends CounterSet {
  /** TUN readiness callbacks, the reads in them that returned packets, and those packets. */
  tunWakeups = 0;
  tunBatches = 0;
  tunPackets = 0;
  /** UDP readiness callbacks, the reads in them that returned datagrams, and those datagrams. */
  udpWakeups = 0;
  udpBatches = 0;
  udpDatagrams = 0;
  /** Wakeups of the node's timers (hellos, handshake retries, routing): once a second at rest. */
  timerWakeups = 0;
}

export interface DataPathReport {
  send: { wakeups: number; batches: number; packets: number; packetsPerWakeup: number; packetsPerBatch: number };
  receive: { wakeups: number; batches: number; datagrams: number; datagramsPerWakeup: number; datagramsPerBatch: number };
  tun: ReturnType<typeof native.tunStats> & { packetsPerRead: number; packetsPerWrite: number };
  udp: ReturnType<typeof native.udpStats> & { datagramsPerRecv: number; datagramsPerSend: number };
  aead: ReturnType<typeof native.aeadStats> & { packetsPerCall: number };
  /** `intervalMs`: how far apart the timers run now (TIMER_TICK_MS while something settles). */
  timers: { wakeups: number; intervalMs: number };
}

/** a / b to two decimals; 0 when nothing was counted. */
function per(a: number, b: number): number {
  return b === 0 ? 0 : Math.round((a / b) * 100) / 100;
}

export function dataPathReport(c: DataPathCounters, timerIntervalMs: number): DataPathReport {
  const tun = native.tunStats();
  const udp = native.udpStats();
  const aead = native.aeadStats();
  return {
    send: {
      wakeups: c.tunWakeups,
      batches: c.tunBatches,
      packets: c.tunPackets,
      packetsPerWakeup: per(c.tunPackets, c.tunWakeups),
      packetsPerBatch: per(c.tunPackets, c.tunBatches),
    },
    receive: {
      wakeups: c.udpWakeups,
      batches: c.udpBatches,
      datagrams: c.udpDatagrams,
      datagramsPerWakeup: per(c.udpDatagrams, c.udpWakeups),
      datagramsPerBatch: per(c.udpDatagrams, c.udpBatches),
    },
    tun: { ...tun, packetsPerRead: per(tun.packetsRead, tun.reads), packetsPerWrite: per(tun.packetsWritten, tun.writes) },
    udp: { ...udp, datagramsPerRecv: per(udp.received, udp.recvCalls), datagramsPerSend: per(udp.sent, udp.sendCalls) },
    aead: { ...aead, packetsPerCall: per(aead.packets, aead.calls) },
    timers: { wakeups: c.timerWakeups, intervalMs: timerIntervalMs },
  };
}
