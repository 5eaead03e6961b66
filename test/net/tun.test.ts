// A real TUN through the native addon: in a fresh network namespace a child process (this same
// file, started with ROVY_TUN_CHILD=1) opens rtun0 and answers ICMPv6 echo requests read from it
// by writing echo replies back, batch by batch; `ping -6` in that namespace must get answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TunDevice } from '../../src/tun/device.js';
import { native, TUN_SCRATCH_BYTES } from '../../src/native/addon.js';
import { PacketBatch, TUN_OFFSET } from '../../src/transport/batch.js';

const TUN = 'rtun0';

// ---- child: runs inside the namespace ------------------------------------------------------

/** One's-complement sum of 16-bit big-endian words. */
function sum16(data: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i < end; i += 2) acc += (data[i] << 8) | (i + 1 < end ? data[i + 1] : 0);
  return acc;
}

/** Turns the echo request at data[p, p+len) into its reply in place; returns false for any other packet. */
function echoReply(data: Uint8Array, p: number, len: number): boolean {
  const payloadLength = (data[p + 4] << 8) | data[p + 5];
  if (len < 48 || data[p] >> 4 !== 6 || data[p + 6] !== 58 || data[p + 40] !== 128 || 40 + payloadLength !== len) return false;
  for (let i = 0; i < 16; i++) {
    const s = data[p + 8 + i];
    data[p + 8 + i] = data[p + 24 + i];
    data[p + 24 + i] = s;
  }
  data[p + 7] = 64; // hop limit
  data[p + 40] = 129; // echo reply
  data[p + 42] = data[p + 43] = 0;
  // Checksum over the pseudo-header (source, destination, length, next header) and the message.
  let acc = sum16(data, p + 8, p + 40) + payloadLength + 58;
  acc = sum16(data, p + 40, p + len, acc);
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  const checksum = ~acc & 0xffff;
  data[p + 42] = checksum >> 8;
  data[p + 43] = checksum & 0xff;
  return true;
}

function child(): void {
  const tun = TunDevice.open(TUN);
  execFileSync('ip', ['link', 'set', TUN, 'mtu', '1420', 'up']);
  execFileSync('ip', ['-6', 'addr', 'add', 'fd99::1/64', 'dev', TUN, 'nodad']);
  const batch = new PacketBatch(16, 2048);
  let replies = 0;
  tun.onReadable((error) => {
    if (error) throw error;
    for (;;) {
      const n = tun.readBatch(batch);
      if (n === 0) return;
      for (let i = 0; i < n; i++) {
        // Router solicitations, MLD reports and the like are not answered: length 0 skips them.
        if (!echoReply(batch.data, batch.slot(i) + TUN_OFFSET, batch.lens[i])) batch.lens[i] = 0;
      }
      replies += tun.writeBatch(batch, n);
    }
  });
  // The parent closing our stdin is the signal to stop; with the TUN closed the process exits.
  process.stdin.on('end', () => {
    tun.close();
    process.stdout.write(`replied ${replies}\n`);
  });
  process.stdin.resume();
  process.stdout.write('ready\n');
}

/**
 * A TUN deleted under its fd and made anew by someone else, as NetworkManager does with one it
 * created: the fd says it is detached, and reopen() attaches to the new one. Runs under
 * `unshare -n`, where /sys still shows the host's interfaces, so only answers that come from the
 * fd and this namespace pass.
 */
function reattachChild(): void {
  const name = 'rtun1';
  const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
  const index = (): number => Number(/^(\d+):/.exec(ip('-o', 'link', 'show', name))![1]);
  const tun = TunDevice.open(name);
  const steps: Record<string, unknown> = {};
  steps.opened = { attached: tun.attached, exists: tun.exists, ifindexMatches: tun.ifindex === index(), owner: /\buser (\S+)/.exec(ip('-d', 'link', 'show', name))?.[1] ?? null };
  ip('link', 'del', name);
  steps.deleted = { attached: tun.attached, exists: tun.exists };
  ip('tuntap', 'add', 'dev', name, 'mode', 'tun'); // persistent, as NetworkManager makes them
  steps.recreated = { attached: tun.attached, exists: tun.exists };
  tun.reopen();
  steps.reopened = { attached: tun.attached, ifindexMatches: tun.ifindex === index() };
  tun.close();
  process.stdout.write(JSON.stringify(steps) + '\n');
}

/**
 * The scratch buffer and state a TUN with offloads keeps between reads live in JS memory: the
 * addon refuses any it did not leave there, before reading. Prints what each case threw.
 */
function stateChild(): void {
  const { fd } = native.tunOpen('rtun2', true);
  const batch = new PacketBatch(4, 2048);
  const scratch = new Uint8Array(TUN_SCRATCH_BYTES);
  const read = (s: Uint8Array, state: Uint32Array): string => {
    try {
      return String(native.tunReadBatch(fd, batch.data, batch.slotSize, TUN_OFFSET, batch.lens, 4, s, state));
    } catch (err) {
      return (err as Error).name;
    }
  };
  const state = (first: number): Uint32Array => Uint32Array.of(first, 0);
  const shared = new Uint8Array(TUN_SCRATCH_BYTES + 8);
  process.stdout.write(
    JSON.stringify({
      good: read(scratch, state(0)),
      scratchTooSmall: read(scratch.subarray(1), state(0)),
      stateShort: read(scratch, new Uint32Array(1)),
      headerOnly: read(scratch, state(10)),
      pastScratch: read(scratch, state(TUN_SCRATCH_BYTES + 1)),
      stateInScratch: read(shared.subarray(0, TUN_SCRATCH_BYTES), new Uint32Array(shared.buffer, 8, 2)),
      stateInBatch: read(scratch, new Uint32Array(batch.data.buffer, 64, 2)),
    }) + '\n',
  );
  native.closeFd(fd);
}

// ---- parent: the test ---------------------------------------------------------------------

function collect(proc: ChildProcess): { out: () => string; exit: Promise<number | null> } {
  let out = '';
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exit = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return { out: () => out, exit };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function ready(proc: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (output().includes('ready\n')) done(null);
    };
    const onClose = (code: number | null) => done(new Error(`child exited (${code}) before it was ready:\n${output()}`));
    const done = (error: Error | null) => {
      proc.stdout?.off('data', onData);
      proc.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    proc.stdout?.on('data', onData);
    proc.on('close', onClose);
  });
}

/** Runs this file as child `mode` under `unshare -n` and returns the JSON it prints. */
async function unsharedChild(mode: string): Promise<unknown> {
  const env: NodeJS.ProcessEnv = { ...process.env, ROVY_TUN_CHILD: mode };
  delete env.NODE_TEST_CONTEXT; // the child is not a test-runner subprocess
  const proc = spawn('unshare', ['-n', process.execPath, '--enable-source-maps', fileURLToPath(import.meta.url)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = collect(proc);
  assert.equal(await within(child.exit, 20_000, 'child'), 0, child.out());
  return JSON.parse(child.out());
}

async function parent(): Promise<void> {
  test('ping -6 through a TUN answered by the native addon', { timeout: 60_000 }, async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root (network namespaces, TUN)');
      return;
    }
    const ns = `rovytun-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    let proc: ChildProcess | null = null;
    let exit: Promise<number | null> | null = null;
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, ROVY_TUN_CHILD: '1' };
      delete env.NODE_TEST_CONTEXT; // the child is not a test-runner subprocess
      proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '--enable-source-maps', fileURLToPath(import.meta.url)], {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const child = collect(proc);
      exit = child.exit;
      await within(ready(proc, child.out), 15_000, 'child start');

      const ping = spawn('ip', ['netns', 'exec', ns, 'ping', '-6', '-c', '3', '-W', '2', 'fd99::2'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const pinged = collect(ping);
      const code = await within(pinged.exit, 20_000, 'ping');
      assert.equal(code, 0, `ping failed:\n${pinged.out()}`);
      assert.match(pinged.out(), /3 packets transmitted, 3 received/);

      proc.stdin?.end();
      assert.equal(await within(exit, 10_000, 'child exit'), 0, child.out());
      const replied = /replied (\d+)/.exec(child.out());
      assert.ok(replied && Number(replied[1]) >= 3, `child reported: ${child.out()}`);
    } finally {
      if (proc && exit) {
        proc.stdin?.end();
        try {
          await within(exit, 10_000, 'child exit');
        } catch {
          process.kill(proc.pid!, 'SIGKILL'); // only the child we started, by its PID
          await exit;
        }
      }
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });

  test('a TUN deleted under its fd is seen as gone, and reopen attaches to the new one', { timeout: 30_000 }, async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root (network namespaces, TUN)');
      return;
    }
    assert.deepEqual(await unsharedChild('reattach'), {
      opened: { attached: true, exists: true, ifindexMatches: true, owner: 'root' },
      deleted: { attached: false, exists: false },
      recreated: { attached: false, exists: true },
      reopened: { attached: true, ifindexMatches: true },
    });
  });

  test('a TUN with offloads refuses a scratch buffer or state it did not leave', { timeout: 30_000 }, async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root (network namespaces, TUN)');
      return;
    }
    assert.deepEqual(await unsharedChild('state'), {
      good: '0',
      scratchTooSmall: 'RangeError',
      stateShort: 'RangeError',
      headerOnly: 'RangeError',
      pastScratch: 'RangeError',
      stateInScratch: 'RangeError',
      stateInBatch: 'RangeError',
    });
  });
}

if (process.env.ROVY_TUN_CHILD === '1') child();
else if (process.env.ROVY_TUN_CHILD === 'reattach') reattachChild();
else if (process.env.ROVY_TUN_CHILD === 'state') stateChild();
else await parent();
