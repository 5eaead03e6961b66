// A flood of valid-mac1 initiations must not lock an honest neighbour out (issue 13, 1).
//
//   ns B (neighbour)                ns A (flooded)                 ns F (flooder)
//   10.1.0.2  <----- veth ----->   10.1.0.1  10.2.0.1  <-- veth -->  10.2.0.2, 10.2.1.0-255
//   rovy daemon                    rovy daemon                       udp-flood (test/native)
//
// The flood is a set of real initiations from keys A does not know, each with a valid mac1 (it
// needs only A's public peer ID), sent again and again: each costs A a Diffie-Hellman until it is
// under load, a cookie reply after. While it runs, B restarts and must ping A within 2 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Lab, ipv4PeerConfig, isRoot, nsExec, sh, until, type Daemon } from './netns.js';
import { HandshakeFlood } from './flood.js';
import { decodePeerId } from '../../src/keys/peerid.js';

const FLOOD_SECONDS = 8;
const FIRST_PING_BOUND_MS = 2000;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15
  return ticks / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
}

/** Datagrams a namespace's kernel dropped because a UDP socket's receive buffer was full. */
function receiveBufferDrops(ns: string): number {
  const lines = nsExec(ns, 'cat', ['/proc/net/snmp']).out.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf('RcvbufErrors')]);
}

test('a handshake flood does not keep a restarted neighbour out', { skip: !isRoot && 'needs root for namespaces and TUN' }, async (t) => {
  const lab = new Lab();
  try {
    const nsA = lab.namespace('A');
    const nsB = lab.namespace('B');
    const nsF = lab.namespace('F');
    lab.link4(nsA, '10.1.0.1', nsB, '10.1.0.2');
    const [, vethF] = lab.link(nsA, '10.2.0.1', nsF, '10.2.0.2', 16);
    const sources = Array.from({ length: 256 }, (_, i) => `10.2.1.${i}`);
    sh('ip', ['-n', nsF, '-batch', '-'], sources.map((s) => `addr add ${s}/16 dev ${vethF}`).join('\n') + '\n');

    const a = lab.initNode('a');
    const b = lab.initNode('b');
    lab.file('a/rovy.toml', ipv4PeerConfig(`10.1.0.2:7777`, b.peerId));
    lab.file('b/rovy.toml', ipv4PeerConfig(`10.1.0.1:7777`, a.peerId));
    const flood = new HandshakeFlood(lab, decodePeerId(a.peerId));

    const daemonA = lab.start(nsA, a.config);
    let daemonB: Daemon = lab.start(nsB, b.config);
    const pingA = () => nsExec(nsB, 'ping', ['-6', '-c', '1', '-W', '1', a.address]).code === 0;
    await until('B reaches A', pingA, 15_000);

    for (const [pps, count] of [
      [20_000, 1],
      [100_000, 1],
      [20_000, 256],
      [100_000, 256],
    ] as const) {
      await t.test(`${pps / 1000}k initiations/s from ${count} address${count > 1 ? 'es' : ''}`, async (st) => {
        assert.equal(await daemonB.stop(), 0, daemonB.log);
        const before = (await daemonA.state()).counters;
        const kernelDropsBefore = receiveBufferDrops(nsA);
        const flooder = flood.start(nsF, '10.2.0.1', pps, FLOOD_SECONDS, sources.slice(0, count));
        const started = performance.now();
        // Only once A is answering with cookies is the flood in full swing.
        await until('A under load', async () => (await daemonA.state()).counters.cookieReplies > before.cookieReplies!, 5_000);
        const cpuFrom = cpuSeconds(daemonA.child.pid!);
        const cpuFromAt = performance.now();

        daemonB = lab.start(nsB, b.config);
        const spawnedAt = performance.now();
        await until('B up', () => / up as fc/.test(daemonB.log), 10_000);
        const upAt = performance.now();
        await until('B pings A', pingA, 10_000);
        const pingedAt = performance.now();

        const after = (await daemonA.state()).counters;
        assert.ok(performance.now() - started < FLOOD_SECONDS * 1000, 'the flood ended before B was measured: lengthen it');
        // A's CPU from the moment it was under load to the end of the flood.
        assert.equal(await flooder.exited, 0, flooder.log);
        const cpu = (cpuSeconds(daemonA.child.pid!) - cpuFrom) / ((performance.now() - cpuFromAt) / 1000);
        const sent = Number(/sent (\d+)/.exec(flooder.log)?.[1]);
        assert.ok(sent >= 0.9 * pps * FLOOD_SECONDS, `the flood fell short of its rate: ${flooder.log}`);
        const firstPingMs = pingedAt - upAt;
        st.diagnostic(
          `${sent} initiations in ${FLOOD_SECONDS} s; B up ${Math.round(upAt - spawnedAt)} ms after its start, first ping ${Math.round(firstPingMs)} ms after that; ` +
            `A used ${(cpu * 100).toFixed(0)} % of a core; cookie replies ${after.cookieReplies! - before.cookieReplies!}, ` +
            `shed ${after.handshakesShed! - before.handshakesShed!}, handshakes refused ${after.unknownPeer! - before.unknownPeer!} ` +
            `(counted from under load to B's ping); datagrams the kernel dropped for a full socket buffer ${receiveBufferDrops(nsA) - kernelDropsBefore}`,
        );
        const stateB = await daemonB.state();
        if (firstPingMs > FIRST_PING_BOUND_MS) {
          st.diagnostic(`A's counters: ${JSON.stringify(after)}\nB's counters: ${JSON.stringify(stateB.counters)}\nB's log:\n${daemonB.log}`);
        }
        assert.ok(firstPingMs <= FIRST_PING_BOUND_MS, `B's first ping took ${Math.round(firstPingMs)} ms`);
        // B handled a handful of handshakes: slow ones on its cold start must not put it under load,
        // or it answers A with a cookie reply and the session waits for a retransmission.
        assert.equal(stateB.counters.cookieReplies ?? 0, 0, 'the restarted neighbour put itself under load');
        assert.ok(cpu < 0.9, `A used ${(cpu * 100).toFixed(0)} % of a core under the flood`);
      });
    }
  } finally {
    await lab.cleanup();
  }
});
