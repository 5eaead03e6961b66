// Two daemons over a hostile link (issue 13, 13): 10 % loss each way, 50 ± 20 ms of delay (which
// reorders), 1 % duplicates and 0.1 % corrupted datagrams, made in userspace by a relay between
// them (impair.tool.ts; this kernel has no netem). The session must stay up, a TCP transfer must
// complete, and the handshakes must stay few: no storm of retries.
//
//   ns A                          ns M (impair.tool)                       ns B
//   10.1.0.1:7777  <-->  10.1.0.2:7000 | 10.2.0.1:7000  <-->  10.2.0.2:7777
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Lab, ipv4PeerConfig, isRoot, nsExec, until } from './netns.js';
import { ROOT } from '../repo-root.js';
import type { Stats as Direction } from './impair.tool.js';

const PROFILE = { loss: 0.1, delayMs: 50, jitterMs: 20, duplicate: 0.01, corrupt: 0.001 };
/** Initiations over the whole run, both ways, that still count as calm: the first handshake, a
 *  few retransmissions of lost ones, nothing periodic (the run is shorter than a rekey). */
const MAX_INITIATIONS = 8;
const TRANSFER_BYTES = 512 * 1024;

/** Accepts one TCP connection on [ADDRESS]:5001, reads it to the end, prints its size and digest. */
const RECEIVER = `
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1)
print("listening", flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    data = c.recv(65536)
    if not data: break
    h.update(data); n += len(data)
print("received", n, h.hexdigest(), flush=True)
`;
/** Sends SIZE random bytes to [ADDRESS]:5001, prints their digest. */
const SENDER = `
import hashlib, os, socket, sys
data = os.urandom(int(sys.argv[2]))
c = socket.create_connection((sys.argv[1], 5001), timeout=100)
c.sendall(data); c.shutdown(socket.SHUT_WR); c.recv(1)
print("sent", hashlib.sha256(data).hexdigest())
`;


test('over a link with 10 % loss, 50 ± 20 ms, 1 % duplicates: the session stays up, TCP completes, no handshake storm', { skip: !isRoot && 'needs root for namespaces and TUN' }, async (t) => {
  const lab = new Lab();
  try {
    const nsA = lab.namespace('A');
    const nsM = lab.namespace('M');
    const nsB = lab.namespace('B');
    lab.link4(nsA, '10.1.0.1', nsM, '10.1.0.2');
    lab.link4(nsM, '10.2.0.1', nsB, '10.2.0.2');
    const a = lab.initNode('a');
    const b = lab.initNode('b');
    lab.file('a/rovy.toml', ipv4PeerConfig('10.1.0.2:7000', b.peerId));
    // The receiver's port open to the mesh (the inbound filter keeps every other one closed).
    lab.file('b/rovy.toml', ipv4PeerConfig('10.2.0.1:7000', a.peerId, ['[ports]', 'allow = ["5001/tcp"]']));

    const relay = lab.spawn(nsM, [
      process.execPath,
      join(ROOT, 'dist', 'test', 'net', 'impair.tool.js'),
      JSON.stringify({ left: '10.1.0.2:7000', leftPeer: '10.1.0.1:7777', right: '10.2.0.1:7000', rightPeer: '10.2.0.2:7777', seed: 13, ...PROFILE }),
    ]);
    await until('relay ready', () => relay.log.includes('ready'));
    const daemonA = lab.start(nsA, a.config);
    const daemonB = lab.start(nsB, b.config);
    await until('A reaches B through the relay', () => nsExec(nsA, 'ping', ['-6', '-c', '1', '-W', '2', b.address]).code === 0, 30_000);

    // 20 s of pings, 5 a second: with 10 % lost each way about 81 % come back; a session that
    // dropped would lose seconds of them at once.
    const ping = nsExec(nsA, 'ping', ['-6', '-c', '100', '-i', '0.2', '-W', '2', b.address], 60_000);
    const received = Number(/(\d+) received/.exec(ping.out)?.[1] ?? 0);
    t.diagnostic(`pings: ${received} of 100 answered`);
    assert.ok(received >= 65, `only ${received} of 100 pings answered:\n${ping.out}`);

    // A TCP transfer that must arrive whole: the receiver reports the digest of all it got.
    const receiver = lab.spawn(nsB, ['python3', '-c', RECEIVER, b.address]);
    await until('receiver listening', () => receiver.log.includes('listening'));
    const started = performance.now();
    const sender = nsExec(nsA, 'python3', ['-c', SENDER, b.address, String(TRANSFER_BYTES)], 120_000);
    assert.equal(sender.code, 0, sender.out);
    await until('receiver done', () => /received \d+/.test(receiver.log), 30_000);
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`TCP: ${TRANSFER_BYTES / 1024} KiB in ${seconds.toFixed(1)} s (${((TRANSFER_BYTES * 8) / seconds / 1e3).toFixed(0)} kbit/s)`);
    assert.equal(/received (\d+ \w+)/.exec(receiver.log)?.[1], `${TRANSFER_BYTES} ${/sent (\w+)/.exec(sender.out)?.[1]}`, 'the transfer did not arrive whole');

    const stateA = await daemonA.state();
    const stateB = await daemonB.state();
    relay.signal('SIGTERM');
    await relay.exited;
    const stats = JSON.parse(relay.log.trim().split('\n').at(-1)!) as { leftToRight: Direction; rightToLeft: Direction };
    const both = (f: keyof Direction) => stats.leftToRight[f] + stats.rightToLeft[f];
    t.diagnostic(
      `relay: ${both('in')} datagrams, ${both('lost')} lost, ${both('duplicated')} duplicated, ${both('corrupted')} corrupted, ` +
        `${both('reordered')} reordered; handshakes: ${both('initiations')} initiations, ${both('responses')} responses, ${both('cookieReplies')} cookie replies`,
    );
    // The impairments happened, or the test proved nothing.
    assert.ok(both('lost') > 0.05 * both('in') && both('duplicated') > 0 && both('reordered') > 0);
    assert.ok(both('initiations') <= MAX_INITIATIONS, `${both('initiations')} initiations: a handshake storm`);
    assert.ok(both('initiations') >= 1);
    // The session never went down; duplicates were refused by the replay window, the corrupted
    // by their tag; nothing else went wrong.
    for (const d of [daemonA, daemonB]) assert.doesNotMatch(d.log, /disconnected/, d.log);
    for (const state of [stateA, stateB]) assert.equal(state.counters.internalErrors, 0);
    assert.ok(stateA.counters.replayed! + stateB.counters.replayed! > 0, 'no duplicate was refused');
  } finally {
    await lab.cleanup();
  }
});
