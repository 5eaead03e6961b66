// The inbound filter with real sockets (issue 14, 6): a service listening on A is out of the
// mesh's reach until its port is opened (rovy ports allow, on a private system bus with the
// repo's policy), then reachable, then out of reach again once closed; replies to A's own
// connections, TCP and UDP, always get back; ping always passes; what was dropped is counted in
// `rovy status --json`, and opened ports survive a restart.
//
//   ns A: daemon with the API, TCP services on 8080 and 8081, no port opened in its config
//   ns B: daemon without a bus; its config opens 9090/tcp and 9091/udp, where B's services listen
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, ROVY_JS, isRoot, nsExec, until, type Daemon } from '../net/netns.js';
import { run, startSystemBus, type PrivateBus } from './buses.js';

const DEST = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';

/** A program for `node -e`: TCP servers on the given ports answering "hello PORT", and a UDP
 *  echo server on the UDP ports. */
const SERVERS = (tcp: number[], udp: number[]) => `
const net = require('node:net'), dgram = require('node:dgram');
for (const port of ${JSON.stringify(tcp)}) net.createServer((s) => s.end('hello ' + port + '\\n')).listen(port, '::');
for (const port of ${JSON.stringify(udp)}) { const u = dgram.createSocket('udp6'); u.on('message', (m, r) => u.send(m, r.port, r.address)); u.bind(port, '::'); }
console.log('listening');`;

/** `node -e` that connects to [addr]:port (TCP) and prints what comes back, or "no answer" after 2 s. */
const TCP_CLIENT = (addr: string, port: number) => `
const s = require('node:net').connect({ host: '${addr}', port: ${port} });
const t = setTimeout(() => { console.log('no answer'); process.exit(0); }, 2000);
s.on('data', (d) => { process.stdout.write(String(d)); clearTimeout(t); s.destroy(); });
s.on('error', (e) => { console.log('error ' + e.code); clearTimeout(t); });`;

/** `node -e` that sends one UDP datagram to [addr]:port and prints the echo, or "no answer". */
const UDP_CLIENT = (addr: string, port: number) => `
const u = require('node:dgram').createSocket('udp6');
const t = setTimeout(() => { console.log('no answer'); u.close(); }, 2000);
u.on('message', (m) => { console.log('echo ' + m); clearTimeout(t); u.close(); });
u.send('ping-over-udp', ${port}, '${addr}');`;

test('a service is out of the mesh\'s reach until its port is opened; replies always get back', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  try {
    bus = await startSystemBus();
    const env = bus.env;
    const rovy = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], env);
    const busctl = (...args: string[]) => run('busctl', ['--system', ...args], env);
    const nsA = lab.namespace('fa');
    const nsB = lab.namespace('fb');
    lab.link(nsA, 'fd00:f1::1', nsB, 'fd00:f1::2');
    const a = lab.initNode('a');
    const b = lab.initNode('b');
    lab.file('a/rovy.toml', ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[[peer]]', `address = "/ip6/fd00:f1::2/udp/7777/rovy/${b.peerId}"`].join('\n'));
    lab.file('b/rovy.toml', ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[ports]', 'allow = ["9090/tcp", "9091/udp"]', '[[peer]]', `address = "/ip6/fd00:f1::1/udp/7777/rovy/${a.peerId}"`].join('\n'));
    const startA = (): Daemon => lab.spawn(nsA, ['env', `DBUS_SYSTEM_BUS_ADDRESS=${bus!.address}`, process.execPath, ROVY_JS, 'daemon', '--config', a.config]);
    let daemonA = startA();
    lab.start(nsB, b.config);
    const serversA = lab.spawn(nsA, [process.execPath, '-e', SERVERS([8080, 8081], [])]);
    const serversB = lab.spawn(nsB, [process.execPath, '-e', SERVERS([9090], [9091])]);
    await until('the services listening', () => serversA.log.includes('listening') && serversB.log.includes('listening'));
    await until('A and B linked', () => nsExec(nsB, 'ping', ['-6', '-n', '-c', '1', '-W', '1', a.address]).code === 0, 30_000);
    await until('A on the bus', async () => (await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Ports`, 'Filter')).code === 0);
    const fromB = (port: number) => nsExec(nsB, process.execPath, ['-e', TCP_CLIENT(a.address, port)], 10_000).out.trim();
    const filtered = async () => (JSON.parse((await rovy('status', '--json')).stdout) as { counters: { filtered: number } }).counters.filtered;

    await t.test('closed by default: B\'s connection to A:8080 is refused as by a closed port, and counted; ping passes', async () => {
      const before = await filtered();
      assert.equal(fromB(8080), 'error ECONNREFUSED');
      assert.ok((await filtered()) > before, 'the dropped SYNs were not counted');
      assert.equal(nsExec(nsB, 'ping', ['-6', '-n', '-c', '1', '-W', '1', a.address]).code, 0, 'ping was filtered');
      const listing = await rovy('ports');
      assert.match(listing.stdout, /no port is open to the mesh/);
    });

    await t.test('rovy ports allow 8080/tcp opens it, to that port only; deny closes it again', async () => {
      const r = await rovy('ports', 'allow', '8080/tcp');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'opened 8080/tcp to every node\n');
      assert.equal(fromB(8080), 'hello 8080');
      assert.equal(fromB(8081), 'error ECONNREFUSED', 'opening 8080 opened 8081 too');
      const json = JSON.parse((await rovy('ports', '--json')).stdout) as { filter: boolean; rules: { ports: string; peerId: string | null; source: string }[] };
      assert.deepEqual(json.rules, [{ ports: '8080/tcp', peerId: null, source: 'runtime' }]);
      // Opened to B alone, 8081 answers B.
      assert.equal((await rovy('ports', 'allow', '8081/tcp', '--from', b.peerId)).code, 0);
      assert.equal(fromB(8081), 'hello 8081');
      assert.equal((await rovy('ports', 'deny', '8081/tcp', '--from', b.peerId)).code, 0);
      assert.equal(fromB(8081), 'error ECONNREFUSED', 'closed, yet it answered');
    });

    await t.test('replies to A\'s own connections get back: TCP to B:9090, UDP to B:9091', () => {
      const tcp = nsExec(nsA, process.execPath, ['-e', TCP_CLIENT(b.address, 9090)], 10_000).out.trim();
      assert.equal(tcp, 'hello 9090');
      const udp = nsExec(nsA, process.execPath, ['-e', UDP_CLIENT(b.address, 9091)], 10_000).out.trim();
      assert.equal(udp, 'echo ping-over-udp');
      // And B's filter keeps its closed ports closed to A all the same.
      assert.equal(nsExec(nsA, process.execPath, ['-e', TCP_CLIENT(b.address, 9092)], 10_000).out.trim(), 'error ECONNREFUSED');
    });

    await t.test('bad rules are refused with named errors and change nothing', async () => {
      const before = (await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Ports`, 'Rules')).stdout;
      const bad = await busctl('call', DEST, ROOT_PATH, `${DEST}.Ports`, 'Allow', 'ss', '99999/tcp', '');
      assert.match(bad.stderr, /ports are 1–65535/);
      const badPeer = await busctl('call', DEST, ROOT_PATH, `${DEST}.Ports`, 'Allow', 'ss', '22/tcp', 'nobody');
      assert.match(badPeer.stderr, /is not a peer ID/);
      const notOpen = await rovy('ports', 'deny', '22/tcp');
      assert.equal(notOpen.code, 1);
      assert.match(notOpen.stderr, /22\/tcp is not open/);
      assert.equal((await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Ports`, 'Rules')).stdout, before);
    });

    await t.test('an opened port survives a restart of the daemon', async () => {
      assert.equal(await daemonA.stop(), 0, daemonA.log);
      daemonA = startA();
      await until('A back on the bus', async () => (await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Ports`, 'Rules')).code === 0, 20_000);
      assert.equal((await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Ports`, 'Rules')).stdout.trim(), 'a(sss) 1 "8080/tcp" "" "runtime"');
      await until('8080 answering B after the restart', () => fromB(8080) === 'hello 8080', 30_000);
      const r = await rovy('ports', 'deny', '8080/tcp');
      assert.equal(r.stdout, 'closed 8080/tcp to every node\n');
      assert.equal(fromB(8080), 'error ECONNREFUSED');
    });

    await t.test('ports opened in the config file apply on SIGHUP, listed as "config", and cannot be closed over D-Bus', async () => {
      lab.file('a/rovy.toml', ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[ports]', 'allow = ["8081/tcp"]', '[[peer]]', `address = "/ip6/fd00:f1::2/udp/7777/rovy/${b.peerId}"`].join('\n'));
      daemonA.signal('SIGHUP');
      await until('8081 open after the reload', () => fromB(8081) === 'hello 8081', 10_000);
      assert.equal((await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Ports`, 'Rules')).stdout.trim(), 'a(sss) 1 "8081/tcp" "" "config"');
      const r = await rovy('ports', 'deny', '8081/tcp');
      assert.match(r.stderr, /opened in the config file/);
      assert.equal(fromB(8081), 'hello 8081');
    });
  } finally {
    await lab.cleanup();
    await bus?.stop();
  }
});
