// Two real daemons, two network namespaces, one veth; checked with ping -6 and iperf3.
//
//   ns A                                      ns B
//   rovy0  fcA::/8                             rovy0  fcB::/8
//   veth   fd00:ab::1/64  <-------------->     veth   fd00:ab::2/64 (later ::3: B roams)
//          daemon listens [::]:7777                   daemon listens [::]:7777, 0.0.0.0:7777
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { Lab, iperf3, ipv4PeerConfig, isRoot, nsExec, sh, until, type Daemon } from './netns.js';
import { LOOKUP_TIMEOUT_MS } from '../../src/routing/lookups.js';

/** The IPv6 fragmentation counters of a namespace's kernel (packets fragmented, fragments made). */
function fragmentsIn(ns: string): string {
  const snmp = nsExec(ns, 'cat', ['/proc/net/snmp6']).out;
  return snmp.split('\n').filter((l) => /^Ip6Frag(OKs|Creates|Fails)\s/.test(l)).join('; ');
}

interface Node {
  ns: string;
  config: string;
  peerId: string;
  address: string;
  daemon?: Daemon;
}

function configText(keyFile: string, peer: Node | null, underlay: string, extra = ''): string {
  return [
    `key_file = "${keyFile}"`,
    `listen = ["/ip6/::/udp/7777", "/ip4/0.0.0.0/udp/7777"]`,
    `[tun]`,
    `name = "rovy0"`,
    `mtu = 1420`,
    `[log]`,
    `level = "debug"`,
    // iperf3's port, and the UDP GSO test's: the inbound filter keeps every other one closed.
    `[ports]`,
    `allow = ["5201/tcp", "9999/udp"]`,
    ...(peer ? [`[[peer]]`, `address = "/ip6/${underlay}/udp/7777/rovy/${peer.peerId}"`] : []),
    extra,
  ].join('\n');
}

test('two nodes over one encrypted fc00::/8 link', { skip: !isRoot && 'needs root for namespaces and TUN' }, async (t) => {
  const lab = new Lab();
  try {
    const nsA = lab.namespace('A');
    const nsB = lab.namespace('B');
    const [, vethB] = lab.link(nsA, 'fd00:ab::1', nsB, 'fd00:ab::2');

    // Each node gets its own directory: `rovy init` puts the key beside the config it creates.
    const make = (name: string, ns: string): Node => {
      const node = lab.initNode(name);
      assert.match(node.peerId, /^bafzqai[a-z2-7]{52}$/);
      assert.match(node.address, /^fc[0-9a-f]{2}:/);
      return { ns, ...node };
    };
    const a = make('a', nsA);
    const b = make('b', nsB);
    assert.notEqual(a.peerId, b.peerId);
    lab.file('a/rovy.toml', configText('node.key', b, 'fd00:ab::2'));
    lab.file('b/rovy.toml', configText('node.key', a, 'fd00:ab::1'));

    a.daemon = lab.start(nsA, a.config);
    b.daemon = lab.start(nsB, b.config);
    const ping = (from: Node, to: Node, count = 1) => nsExec(from.ns, 'ping', ['-6', '-n', '-c', String(count), '-i', '0.2', '-W', '1', to.address]);

    await t.test('ping -6 both ways by fc address', async () => {
      await until('A reaches B', () => ping(a, b).code === 0, 15_000);
      const ab = ping(a, b, 3);
      assert.equal(ab.code, 0, ab.out);
      assert.match(ab.out, /3 received/);
      const ba = ping(b, a, 3);
      assert.equal(ba.code, 0, ba.out);
      assert.match(ba.out, /3 received/);
    });

    await t.test('the interface carries the address/8, the route and the MTU', () => {
      const link = nsExec(nsA, 'ip', ['-6', 'addr', 'show', 'dev', 'rovy0']).out;
      assert.match(link, new RegExp(`inet6 ${a.address}/8`));
      assert.match(link, /mtu 1420/);
      const route = nsExec(nsA, 'ip', ['-6', 'route', 'show', 'fc00::/8']).out;
      assert.match(route, /dev rovy0/);
    });

    await t.test('an unknown fc address fails with ICMPv6 unreachable once a lookup found nothing, then at once', (t2) => {
      // The first packet waits for one lookup (LOOKUP_TIMEOUT_MS at most; in two nodes, one
      // answer from B once A knows it)...
      let start = performance.now();
      const first = nsExec(nsA, 'ping', ['-6', '-n', '-c', '1', '-W', '15', 'fc00::1234']);
      const lookupMs = performance.now() - start;
      assert.notEqual(first.code, 0);
      assert.match(first.out, /[Uu]nreachable|No route/);
      assert.ok(lookupMs < LOOKUP_TIMEOUT_MS + 1000, `the first ping took ${lookupMs} ms`);
      // ...and for UNREACHABLE_MS after it found nothing, packets to it are refused at once.
      start = performance.now();
      const again = nsExec(nsA, 'ping', ['-6', '-n', '-c', '1', '-W', '5', 'fc00::1234']);
      const ms = performance.now() - start;
      assert.match(again.out, /[Uu]nreachable|No route/);
      assert.ok(ms < 1000, `ping took ${ms} ms: it waited instead of failing at once`);
      t2.diagnostic(`unknown address: unreachable after ${Math.round(lookupMs)} ms, then after ${Math.round(ms)} ms`);
    });

    await t.test('a packet whose source is not the sender\'s address is dropped and counted', async () => {
      // A sends from a second address that is not derived from its key: B must refuse it.
      sh('ip', ['-n', nsA, 'addr', 'add', 'fc11::1/128', 'dev', 'rovy0', 'nodad']);
      try {
        const r = nsExec(nsA, 'ping', ['-6', '-n', '-c', '2', '-i', '0.2', '-W', '1', '-I', 'fc11::1', b.address]);
        assert.notEqual(r.code, 0, 'a spoofed ping got an answer');
      } finally {
        sh('ip', ['-n', nsA, 'addr', 'del', 'fc11::1/128', 'dev', 'rovy0']);
      }
      const state = await b.daemon!.state();
      assert.ok(state.counters.spoofedSource >= 2, `spoofedSource = ${state.counters.spoofedSource}`);
      assert.equal(ping(a, b).code, 0, 'the session suffered');
    });

    await t.test('iperf3 TCP through rovy0, in large segments split and coalesced', async () => {
      assert.match(a.daemon!.log, /TUN rovy0: offloads csum tso6/);
      const before = { a: (await a.daemon!.state()).dataPath, b: (await b.daemon!.state()).dataPath };
      const fragmentsBefore = fragmentsIn(nsA);
      const report = await iperf3(nsA, nsB, b.address);
      t.diagnostic(`iperf3 over rovy: ${(report.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
      assert.ok(report.bytes > 1_000_000, 'less than 1 MB went through');
      // A read 64 KB segments from its TUN and cut them; B wrote a flow's packets as one.
      const after = { a: (await a.daemon!.state()).dataPath, b: (await b.daemon!.state()).dataPath };
      const delta = (side: 'a' | 'b', part: 'tun' | 'udp', key: string) =>
        (after[side][part] as Record<string, number>)[key]! - (before[side][part] as Record<string, number>)[key]!;
      const perRead = delta('a', 'tun', 'packetsRead') / delta('a', 'tun', 'reads');
      const perWrite = delta('b', 'tun', 'packetsWritten') / delta('b', 'tun', 'writes');
      const perSend = delta('a', 'udp', 'sent') / delta('a', 'udp', 'sendCalls');
      t.diagnostic(`packets per TUN read at A ${perRead.toFixed(1)}, per TUN write at B ${perWrite.toFixed(1)}, datagrams per sendmmsg at A ${perSend.toFixed(1)}`);
      assert.ok(delta('a', 'tun', 'gsoReads') > 0 && perRead > 2, `A split no segments: ${JSON.stringify(after.a.tun)}`);
      assert.ok(delta('b', 'tun', 'groWrites') > 0 && perWrite > 2, `B coalesced nothing: ${JSON.stringify(after.b.tun)}`);
      assert.ok(perSend > 2, `A sent ${perSend} datagrams per sendmmsg`);
      assert.equal(after.a.tun.malformed + after.b.tun.malformed, 0);
      // Every datagram fits the path as it is: A's kernel fragmented nothing.
      assert.deepEqual(fragmentsIn(nsA), fragmentsBefore, 'A fragmented IPv6 packets');
    });

    await t.test('a UDP GSO send through rovy0 arrives as its datagrams, each intact', async () => {
      // An application's UDP_SEGMENT send (as QUIC stacks do) reaches the TUN as one segment
      // (USO): A cuts it, B's application gets every datagram with the right bytes.
      const receiver = spawn('ip', ['netns', 'exec', nsB, process.execPath, '-e', `
        const s = require('node:dgram').createSocket('udp6');
        const got = [];
        s.on('message', (m) => { got.push(m.every((v, i) => v === ((got.length * 7 + i) & 0xff)) ? m.length : -m.length); if (got.length === 6) done(); });
        const done = () => { clearTimeout(timer); console.log(JSON.stringify(got)); s.close(); };
        const timer = setTimeout(done, 10000);
        s.bind(9999, '${b.address}', () => console.log('ready'));`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      receiver.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((r) => receiver.once('exit', r));
      try {
        await until('receiver ready', () => out.startsWith('ready'));
        const before = (await a.daemon!.state()).dataPath.tun.gsoReads;
        const send = nsExec(nsA, 'python3', ['-c', `
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1000)  # UDP_SEGMENT
s.sendto(b''.join(bytes((k * 7 + i) & 0xff for i in range(1000 if k < 5 else 123)) for k in range(6)), ('${b.address}', 9999))`]);
        assert.equal(send.code, 0, send.out);
        await exited;
        assert.deepEqual(JSON.parse(out.slice('ready'.length)), [1000, 1000, 1000, 1000, 1000, 123]);
        // Linux has had UDP segmentation offload on TUNs since 6.2; this kernel must use it.
        const [major, minor] = release().split('.').map(Number) as [number, number];
        if (major > 6 || (major === 6 && minor >= 2)) {
          assert.match(a.daemon!.log, /offloads csum tso6 uso6/);
          assert.equal((await a.daemon!.state()).dataPath.tun.gsoReads, before + 1, 'the send was not one segment');
        }
      } finally {
        if (receiver.exitCode === null) receiver.kill();
        await exited;
      }
    });

    await t.test('SIGHUP reloads peers and keeps the session', async () => {
      const before = a.daemon!.log;
      a.daemon!.signal('SIGHUP');
      await until('reload logged', () => a.daemon!.log.length > before.length && /SIGHUP: reloaded 1 peer/.test(a.daemon!.log));
      const after = a.daemon!.log.slice(before.length);
      assert.doesNotMatch(after, /connected|added|removed/, 'the reload touched the session');
      assert.equal(ping(a, b).code, 0);

      // A broken file on reload is reported and changes nothing.
      const good = lab.file('a/rovy.toml', configText('node.key', b, 'fd00:ab::2'));
      lab.file('a/rovy.toml', configText('node.key', b, 'fd00:ab::2', '[tun]\nmtu = 99999'));
      const mark = a.daemon!.log.length;
      a.daemon!.signal('SIGHUP');
      await until('reload error logged', () => /keeping the running configuration/.test(a.daemon!.log.slice(mark)));
      assert.match(a.daemon!.log.slice(mark), new RegExp(`${good}:\\d+: `));
      assert.equal(ping(a, b).code, 0);
      lab.file('a/rovy.toml', configText('node.key', b, 'fd00:ab::2'));
    });

    await t.test('10 000 random datagrams at the listen port: no reply, no crash, session intact', async () => {
      const fuzz = `
        const dgram = require('node:dgram');
        const { randomBytes, randomInt } = require('node:crypto');
        const s = dgram.createSocket('udp6');
        let replies = 0;
        s.on('message', () => replies++);
        s.bind(0, async () => {
          for (let i = 0; i < 10000; i++) {
            const kind = i % 4;
            const len = kind === 0 ? 148 : kind === 1 ? 92 : kind === 2 ? 32 + randomInt(1400) : randomInt(1500);
            const buf = randomBytes(len);
            if (kind < 3) { buf[0] = kind === 0 ? 1 : kind === 1 ? 2 : 4; buf[1] = buf[2] = buf[3] = 0; }
            s.send(buf, 7777, 'fd00:ab::1');
            if (i % 200 === 0) await new Promise((r) => setImmediate(r));
          }
          setTimeout(() => { console.log(JSON.stringify({ replies })); s.close(); }, 1000);
        });`;
      const r = nsExec(nsB, process.execPath, ['-e', fuzz], 60_000);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(JSON.parse(r.out), { replies: 0 });
      assert.equal(a.daemon!.child.exitCode, null, 'daemon A died');
      const p = ping(b, a, 3);
      assert.equal(p.code, 0, p.out);
    });

    await t.test('a peer whose underlay address changes keeps its session', async () => {
      const before = a.daemon!.log.length;
      sh('ip', ['-n', nsB, 'addr', 'add', 'fd00:ab::3/64', 'dev', vethB, 'nodad']);
      sh('ip', ['-n', nsB, 'addr', 'del', 'fd00:ab::2/64', 'dev', vethB]);
      // B's next packet comes from fd00:ab::3; A must answer there.
      const p = ping(b, a, 3);
      assert.equal(p.code, 0, p.out);
      assert.equal(ping(a, b).code, 0);
      assert.doesNotMatch(a.daemon!.log.slice(before), /connected|rekeyed/, 'roaming needed a new handshake');
    });

    await t.test('a restarted daemon carries traffic again within 5 s', async () => {
      assert.equal(await b.daemon!.stop(), 0, b.daemon!.log);
      assert.notEqual(nsExec(nsB, 'ip', ['link', 'show', 'rovy0']).code, 0, 'rovy0 left behind after SIGTERM');
      b.daemon = lab.start(nsB, b.config);
      const ms = await until('traffic after restart', () => ping(a, b).code === 0, 5_000);
      t.diagnostic(`traffic again ${Math.round(ms)} ms after the restart`);
    });

    await t.test('SIGINT shuts down cleanly too', async () => {
      a.daemon!.signal('SIGINT');
      assert.equal(await a.daemon!.exited, 0, a.daemon!.log);
      assert.notEqual(nsExec(nsA, 'ip', ['link', 'show', 'rovy0']).code, 0, 'rovy0 left behind after SIGINT');
    });
  } finally {
    await lab.cleanup();
  }
});

test('a bad config stops the daemon before it changes anything', { skip: !isRoot && 'needs root' }, async () => {
  const lab = new Lab();
  try {
    const ns = lab.namespace('C');
    const config = lab.file('bad.toml', [`key_file = "${lab.dir}/c.key"`, '[tun]', 'name = "rovy0"', 'mtu = 70000'].join('\n'));
    const d = lab.start(ns, config);
    await until('the start to fail', () => d.child.exitCode !== null, 10_000); // not hang if it starts
    assert.equal(await d.exited, 1);
    const lines = d.log.trim().split('\n');
    assert.equal(lines.length, 1, d.log);
    assert.match(lines[0]!, new RegExp(`${config}:4: tun\\.mtu: `));
    assert.notEqual(nsExec(ns, 'ip', ['link', 'show', 'rovy0']).code, 0, 'rovy0 was created');
    assert.equal(lab.rovy(['id', '--config', config]).code, 1, 'a key was created');
  } finally {
    await lab.cleanup();
  }
});

test('a start that fails writes nothing; a state.json that cannot be used is kept, every copy, once the daemon is up', { skip: !isRoot && 'needs root' }, async () => {
  const lab = new Lab();
  try {
    const ns = lab.namespace('K');
    const config = lab.file('k/rovy.toml', 'key_file = "node.key"\nlisten = ["/ip6/::/udp/7777"]\n');
    const dir = lab.path('k');
    const first = '{"enabled": tr\nue}';
    lab.file('k/state.json', first);
    const bads = (): string[] => readdirSync(dir).filter((f) => f.startsWith('state.json.bad')).sort();
    // The listen port is taken: the start fails, and leaves no key, no interface, the state file as it was.
    const blocker = lab.spawn(ns, ['python3', '-c', 'import socket, time\ns = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\ns.bind(("::", 7777))\nprint("bound", flush=True)\ntime.sleep(120)']);
    await until('the port taken', () => /bound/.test(blocker.log));
    const failed = lab.start(ns, config);
    await until('the start to fail', () => failed.child.exitCode !== null, 10_000);
    assert.equal(await failed.exited, 1, failed.log);
    assert.match(failed.log, /listen \/ip6\/::\/udp\/7777: .*EADDRINUSE|address already in use/i);
    assert.equal(existsSync(`${dir}/node.key`), false, 'a key was written by a start that failed');
    assert.equal(readFileSync(`${dir}/state.json`, 'utf8'), first);
    assert.deepEqual(bads(), [], 'the state file was moved by a start that failed');
    assert.notEqual(nsExec(ns, 'ip', ['link', 'show', 'rovy0']).code, 0, 'rovy0 was left');
    const warning = failed.log.split('\n').filter((l) => l.includes('state.json'));
    assert.equal(warning.length, 1, `the warning is not one line:\n${failed.log}`);
    await blocker.stop();

    // Up: the key is written, the bad file kept aside. A second bad file is kept beside the first.
    for (const [i, text] of [first, '[1, 2'].entries()) {
      lab.file('k/state.json', text);
      const d = lab.start(ns, config);
      await until('the node up', () => /up as fc/.test(d.log));
      await until('the bad file aside', () => bads().length === i + 1);
      assert.equal(readFileSync(`${dir}/${bads()[i]}`, 'utf8'), text);
      assert.equal(await d.stop(), 0, d.log);
    }
    assert.equal(readFileSync(`${dir}/${bads()[0]}`, 'utf8'), first, 'the first bad copy was overwritten');
    assert.ok(existsSync(`${dir}/node.key`));
  } finally {
    await lab.cleanup();
  }
});

test('a [[peer]] that is the node itself stops the daemon, naming the line', { skip: !isRoot && 'needs root' }, async () => {
  const lab = new Lab();
  try {
    const ns = lab.namespace('S');
    const init = lab.file('init.toml', `key_file = "${lab.dir}/s.key"\n`);
    assert.equal(lab.rovy(['init', '--config', init]).code, 0);
    const id = JSON.parse(lab.rovy(['id', '--config', init, '--json']).out) as { peerId: string };
    const config = lab.file('self.toml', [`key_file = "${lab.dir}/s.key"`, 'listen = ["/ip6/::/udp/7777"]', '[[peer]]', `address = "/ip6/fd00::9/udp/7777/rovy/${id.peerId}"`].join('\n'));
    const d = lab.start(ns, config);
    await until('the start to fail', () => d.child.exitCode !== null, 10_000); // not hang if it starts
    assert.equal(await d.exited, 1);
    assert.equal(d.log.trim(), `rovy: error: ${config}:4: peer[0].address: is this node itself (${id.peerId} is its own peer ID)`);
    assert.notEqual(nsExec(ns, 'ip', ['link', 'show', 'rovy0']).code, 0, 'rovy0 was created');
  } finally {
    await lab.cleanup();
  }
});

test('two nodes over an IPv4 underlay', { skip: !isRoot && 'needs root' }, async () => {
  //   ns D  vDE 198.18.0.1/24  <--- veth --->  vED 198.18.0.2/24  ns E   (RFC 2544 benchmark range)
  const lab = new Lab();
  try {
    const nsD = lab.namespace('D');
    const nsE = lab.namespace('E');
    lab.link4(nsD, '198.18.0.1', nsE, '198.18.0.2');
    const d = lab.initNode('d');
    const e = lab.initNode('e');
    const conf = (peer: typeof d, ip: string) =>
      ipv4PeerConfig(`${ip}:7777`, peer.peerId);
    lab.file('d/rovy.toml', conf(e, '198.18.0.2'));
    lab.file('e/rovy.toml', conf(d, '198.18.0.1'));
    lab.start(nsD, d.config);
    lab.start(nsE, e.config);
    await until('D reaches E over IPv4', () => nsExec(nsD, 'ping', ['-6', '-c', '1', '-W', '1', e.address]).code === 0, 15_000);
    const back = nsExec(nsE, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '1', d.address]);
    assert.equal(back.code, 0, back.out);
  } finally {
    await lab.cleanup();
  }
});
