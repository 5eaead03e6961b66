// rovy's session layer against a real WireGuard: wireguard-go (the current one,
// scripts/modern-peers.sh) and a rovy daemon built for this test with WireGuard's identifier in
// place of rovy's. Everything else on the wire is WireGuard's (docs/PROTOCOL.md §2), so the two must
// agree on every byte: handshakes started by either side, traffic both ways, a rekey under
// traffic, and a cookie exchange while rovy is under a real handshake flood.
//
//   ns W                                     ns R                              ns F
//   wireguard-go, its fc address /8   <-->   rovy (WireGuard identifier)  <-->  udp-flood
//   10.9.0.2:51820                           10.9.0.1:7777   10.8.0.1           10.8.0.2
//
// The identifier is swapped in a bundle made here (dist/test/net/wg-identifier/), from the same
// sources by an esbuild plugin: no config, option or build of the product can reach it. That
// bundle also rekeys after 8 s instead of 120 s, so a rekey happens within the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Lab, iperf3, ipv4PeerConfig, isRoot, nsExec, sh, until, type Daemon } from './netns.js';
import { HandshakeFlood } from './flood.js';
import { ROOT } from '../repo-root.js';
import { decodePeerId, encodePeerId } from '../../src/keys/peerid.js';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { fcAddressBytes, formatIPv6 } from '../../src/keys/address.js';

const WIREGUARD_IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
const TEST_REKEY_AFTER_SECONDS = 8;

/** rovy's CLI bundled with WireGuard's identifier and a short rekey time, for this test only. */
async function buildWireGuardRovy(): Promise<string> {
  const outfile = join(ROOT, 'dist', 'test', 'net', 'wg-identifier', 'rovy.js');
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  await build({
    entryPoints: [join(ROOT, 'service', 'cli.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    define: { ROVY_VERSION: JSON.stringify(version) },
    plugins: [
      {
        name: 'wireguard-identifier',
        setup(b) {
          b.onLoad({ filter: /src[\\/]noise[\\/]constants\.ts$/ }, (args) => {
            const text = readFileSync(args.path, 'utf8');
            const swapped = text
              .replace("export const IDENTIFIER = 'rovy.net v1 mesh';", `export const IDENTIFIER = '${WIREGUARD_IDENTIFIER}';`)
              .replace('export const REKEY_AFTER_TIME = 120;', `export const REKEY_AFTER_TIME = ${TEST_REKEY_AFTER_SECONDS};`);
            if (!swapped.includes(WIREGUARD_IDENTIFIER) || !swapped.includes(`REKEY_AFTER_TIME = ${TEST_REKEY_AFTER_SECONDS};`)) {
              throw new Error('src/noise/constants.ts changed: the interop test cannot swap its identifier and rekey time');
            }
            return { contents: swapped, loader: 'ts' };
          });
        },
      },
    ],
  });
  return outfile;
}

/** Waits for `pattern` in what `d` logged after `mark`: the log arrives through the event loop,
 *  which a synchronous ping held up. */
function logged(d: Daemon, pattern: RegExp, mark = 0): Promise<number> {
  return until(`${pattern} in the log`, () => pattern.test(d.log.slice(mark)), 3000);
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** wireguard-go's latest handshake with its one peer, in Unix seconds (0: none). */
function latestHandshake(ns: string, dev: string): number {
  const out = nsExec(ns, 'wg', ['show', dev, 'latest-handshakes']).out.trim();
  return Number(out.split(/\s+/)[1] ?? 0);
}

test('rovy and wireguard-go agree on the wire', { skip: !isRoot && 'needs root for namespaces and TUN' }, async (t) => {
  const peers = execFileSync(join(ROOT, 'scripts', 'modern-peers.sh'), { encoding: 'utf8' }).trim();
  const wireguardGo = join(peers, 'usr', 'bin', 'wireguard-go');
  const rovyJs = await buildWireGuardRovy();
  const lab = new Lab();
  try {
    const nsR = lab.namespace('R');
    const nsW = lab.namespace('W');
    const nsF = lab.namespace('F');
    lab.link4(nsR, '10.9.0.1', nsW, '10.9.0.2');
    lab.link4(nsR, '10.8.0.1', nsF, '10.8.0.2');

    const rovy = lab.initNode('r');
    const rovyKey = decodePeerId(rovy.peerId);
    const wgKeys = generateKeyPair();
    const wgAddress = formatIPv6(fcAddressBytes(wgKeys.publicKey));
    const wgKeyFile = lab.file('wg.key', base64(wgKeys.privateKey) + '\n');
    lab.file(
      'r/rovy.toml',
      ipv4PeerConfig('10.9.0.2:51820', encodePeerId(wgKeys.publicKey), ['[log]', 'level = "debug"', '[ports]', 'allow = ["5201/tcp"]']),
    );

    // wireguard-go's interface, configured with wg(8) as any WireGuard user would.
    const dev = `rvwg${process.pid % 10000}`;
    let wg: Daemon | undefined;
    const startWireGuard = async (): Promise<Daemon> => {
      const d = lab.spawn(nsW, ['env', 'LOG_LEVEL=verbose', wireguardGo, '-f', dev]);
      await until('wireguard-go up', () => nsExec(nsW, 'ip', ['link', 'show', dev]).code === 0);
      sh('ip', ['netns', 'exec', nsW, 'wg', 'set', dev, 'private-key', wgKeyFile, 'listen-port', '51820', 'peer', base64(rovyKey), 'endpoint', '10.9.0.1:7777', 'allowed-ips', 'fc00::/8']);
      sh('ip', ['-n', nsW, 'addr', 'add', `${wgAddress}/8`, 'dev', dev, 'nodad']);
      sh('ip', ['-n', nsW, 'link', 'set', dev, 'mtu', '1420', 'up']);
      return d;
    };
    const stopWireGuard = async (d: Daemon) => {
      await d.stop();
      await until('wireguard-go gone', () => nsExec(nsW, 'ip', ['link', 'show', dev]).code !== 0);
    };
    const rovyDaemon = lab.spawn(nsR, [process.execPath, '--enable-source-maps', rovyJs, 'daemon', '--config', rovy.config]);
    const pingFromRovy = (count = 1) => nsExec(nsR, 'ping', ['-6', '-c', String(count), '-i', '0.2', '-W', '1', wgAddress], 30_000);
    const pingFromWg = () => nsExec(nsW, 'ping', ['-6', '-c', '1', '-W', '1', rovy.address]);

    await t.test('rovy initiates: handshake, ping both ways, iperf3 both ways', async () => {
      wg = await startWireGuard();
      await until('rovy up', () => / up as fc/.test(rovyDaemon.log));
      await until('rovy reaches wireguard-go', () => pingFromRovy().code === 0, 15_000);
      await logged(wg, /Received handshake initiation/);
      assert.equal(pingFromWg().code, 0, 'wireguard-go cannot reach rovy');
      const up = await iperf3(nsR, nsW, wgAddress);
      const down = await iperf3(nsW, nsR, rovy.address);
      t.diagnostic(`iperf3 rovy → wireguard-go ${(up.bitsPerSecond / 1e6).toFixed(0)} Mbit/s, back ${(down.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
      assert.ok(up.bytes > 1e6 && down.bytes > 1e6);
    });

    await t.test(`rovy rekeys under traffic after ${TEST_REKEY_AFTER_SECONDS} s, and no packet is lost`, async () => {
      const before = latestHandshake(nsW, dev);
      const mark = rovyDaemon.log.length;
      // 15 s of pings, 5 a second: at least one rekey falls inside.
      const ping = pingFromRovy(75);
      assert.equal(ping.code, 0, ping.out);
      assert.match(ping.out, / 0% packet loss/, ping.out);
      assert.ok(latestHandshake(nsW, dev) > before, 'no new handshake during the pings');
      await logged(rovyDaemon, /rekeyed/, mark);
    });

    await t.test('wireguard-go initiates: its handshake is answered', async () => {
      await stopWireGuard(wg!);
      const mark = rovyDaemon.log.length;
      wg = await startWireGuard();
      // wireguard-go has no session: its first packet starts a handshake of its own.
      await until('wireguard-go reaches rovy', () => pingFromWg().code === 0, 15_000);
      await logged(wg, /Sending handshake initiation/);
      await logged(wg, /Received handshake response/);
      await logged(rovyDaemon, /connected|rekeyed/, mark);
      assert.equal(pingFromRovy().code, 0);
    });

    await t.test('under a handshake flood rovy answers wireguard-go with a cookie, and wireguard-go gets in with it', async () => {
      const flood = new HandshakeFlood(lab, rovyKey);
      await stopWireGuard(wg!);
      const flooder = flood.start(nsF, '10.8.0.1', 20_000, 15, ['10.8.0.2']);
      const before = (await rovyDaemon.state()).counters;
      await until('rovy under load', async () => (await rovyDaemon.state()).counters.cookieReplies! > before.cookieReplies!, 5_000);
      wg = await startWireGuard();
      await until('wireguard-go reaches rovy through the flood', () => pingFromWg().code === 0, 12_000);
      await logged(wg, /Receiving cookie response/);
      await logged(wg, /Received handshake response/);
      flooder.signal('SIGTERM');
      await flooder.exited;
    });

    await t.test('rovy counted nothing wrong from wireguard-go', async () => {
      const counters = (await rovyDaemon.state()).counters;
      for (const name of ['malformed', 'invalidMac1', 'unknownIndex', 'replayed', 'decryptFailed', 'spoofedSource', 'invalidPacket', 'internalErrors']) {
        assert.equal(counters[name], 0, `${name}: ${counters[name]}`);
      }
    });
  } finally {
    await lab.cleanup();
  }
});
