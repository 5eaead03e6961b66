// Desktop test harness: a private system-type dbus-daemon whose policy includes the repo's own
// dbus/ directory (so the shipped net.rovy.Rovy1.conf is what the tests run against), and
// optionally polkitd on that bus with the repo's actions and a test rule.
//
// Nothing here touches /run/dbus or the host's polkit configuration: the bus socket lives in a
// temp dir, and polkitd sees our files only through mounts in its own private mount namespace.
// Every process is a child of the test process, ended by PID and waited for (PID 1 on these
// machines does not reap orphans).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ROOT } from '../repo-root.js';
import { until } from '../wait.js';

export { isRoot } from '../wait.js';

/** A child process with its output kept for failure messages. */
class Child {
  output = '';
  readonly exited: Promise<void>;

  constructor(readonly proc: ChildProcess) {
    proc.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM by PID, then wait for it to exit; SIGKILL after 5 s so a test never hangs. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.running && this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Polls `check` until it is true, failing early if the process being waited for exits. */
function untilAlive(what: string, check: () => Promise<boolean>, alive: () => boolean): Promise<number> {
  return until(what, async () => {
    if (await check()) return true;
    if (!alive()) throw new Error(`${what}: the process exited`);
    return false;
  });
}


/** Runs a command; resolves with its exit code and output instead of throwing. */
export function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 30_000, env: env ?? process.env }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// The default policy of Debian's /usr/share/dbus-1/system.conf (deny by default, services open
// up their own names in system.d), without <user>/<fork>/syslog/launch helper, on our socket.
function systemBusConfig(socket: string, pidfile: string, serviceDir: string | undefined): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <pidfile>${pidfile}</pidfile>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
    <!-- test only: a connection's match rules, to see that a client removed all of its own -->
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <includedir>${join(ROOT, 'dbus')}</includedir>
${serviceDir ? `  <servicedir>${serviceDir}</servicedir>\n` : ''}</busconfig>
`;
}

export interface PrivateBus {
  /** e.g. unix:path=/tmp/rovy-bus-XXXX/system_bus_socket,guid=... */
  address: string;
  /** The environment for tools that take the system bus from DBUS_SYSTEM_BUS_ADDRESS (gdbus --system). */
  env: NodeJS.ProcessEnv;
  /** The bus's own log (it logs every policy rejection). */
  log(): string;
  stop(): Promise<void>;
}

/** A private system bus; with `serviceDir`, it activates the services described there (the
 *  bus runs their Exec= itself: no systemd, no setuid helper). */
export async function startSystemBus(serviceDir?: string): Promise<PrivateBus> {
  const dir = mkdtempSync(join(tmpdir(), 'rovy-bus-'));
  chmodSync(dir, 0o755); // unprivileged test callers must reach the socket
  const config = join(dir, 'system-bus.conf');
  writeFileSync(config, systemBusConfig(join(dir, 'system_bus_socket'), join(dir, 'bus.pid'), serviceDir));
  const daemon = new Child(
    spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--nopidfile', '--print-address=3'], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    }),
  );
  const stop = async (): Promise<void> => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  // It prints its address once it listens: that is the readiness signal.
  let printed = '';
  const address = await new Promise<string>((resolve, reject) => {
    (daemon.proc.stdio[3] as Readable).on('data', (d: Buffer) => {
      printed += d.toString();
      if (printed.includes('\n')) resolve(printed.split('\n')[0]!);
    });
    daemon.proc.once('exit', () => reject(new Error(`dbus-daemon exited: ${daemon.output}`)));
    daemon.proc.once('error', reject);
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return { address, env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: address }, log: () => daemon.output, stop };
}

export interface Polkitd {
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

// In polkitd's own mount namespace: empty tmpfs over the actions and rules directories, with the
// given action and rule files bind-mounted in (read-only), then exec polkitd, so the spawned PID
// is polkitd's. It drops to user polkitd by itself; the mounts stay readable to it. Arguments:
// action files, then "--", then rule files.
const POLKITD_SCRIPT = `set -e
mount --make-rprivate /
mount -t tmpfs -o mode=755 tmpfs /usr/share/polkit-1/actions
mount -t tmpfs -o mode=755 tmpfs /etc/polkit-1/rules.d
dir=/usr/share/polkit-1/actions
for f in "$@"; do
  if [ "$f" = -- ]; then dir=/etc/polkit-1/rules.d; continue; fi
  touch "$dir/\${f##*/}"
  mount --bind -o ro "$f" "$dir/\${f##*/}"
done
exec /usr/lib/polkit-1/polkitd --no-debug
`;

export interface PolkitFiles {
  /** Action files (.policy); by default the repo's net.rovy.policy alone. */
  actions?: string[];
  /** Rule files (.rules); by default test/desktop/polkit/50-rovy-test.rules. */
  rules?: string[];
}

/** polkitd on `bus`, knowing only the given actions and rules. */
export async function startPolkitd(bus: PrivateBus, files: PolkitFiles = {}): Promise<Polkitd> {
  const actions = files.actions ?? [join(ROOT, 'dbus', 'net.rovy.policy')];
  const rules = files.rules ?? [join(ROOT, 'test', 'desktop', 'polkit', '50-rovy-test.rules')];
  const polkitd = new Child(spawn('unshare', ['-m', 'sh', '-c', POLKITD_SCRIPT, 'sh', ...actions, '--', ...rules], { stdio: ['ignore', 'pipe', 'pipe'], env: bus.env }));
  const owned = async (): Promise<boolean> =>
    (await run('busctl', [`--address=${bus.address}`, 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameHasOwner', 's', 'org.freedesktop.PolicyKit1'])).stdout.trim() === 'b true';
  try {
    await untilAlive('polkitd to own org.freedesktop.PolicyKit1', owned, () => polkitd.running);
  } catch (e) {
    await polkitd.stop();
    throw new Error(`${(e as Error).message}\n${polkitd.output}`);
  }
  return { pid: polkitd.proc.pid!, log: () => polkitd.output, stop: () => polkitd.stop() };
}

/**
 * `busctl monitor` of everything net.rovy.Rovy1 sends, as JSON messages. Ready once the monitor
 * has seen its own probe (a signal we send to it and wait for), so nothing before that is lost.
 */
export interface Monitor {
  messages(): { type: string; path?: string; interface?: string; member?: string; payload?: { data: unknown[] } }[];
  stop(): Promise<void>;
}

export async function startMonitor(bus: PrivateBus): Promise<Monitor> {
  const mon = new Child(spawn('busctl', [`--address=${bus.address}`, 'monitor', '--json=short'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const messages = (): ReturnType<Monitor['messages']> =>
    mon.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ReturnType<Monitor['messages']>[number]);
  // A monitor sees every message on the bus once it is installed; poll with a harmless call.
  const probe = async (): Promise<boolean> => {
    await run('busctl', [`--address=${bus.address}`, 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId']);
    return messages().some((m) => m.member === 'GetId');
  };
  try {
    await untilAlive('busctl monitor', probe, () => mon.running);
  } catch (e) {
    await mon.stop();
    throw new Error(`${(e as Error).message}\n${mon.output}`);
  }
  return { messages, stop: () => mon.stop() };
}
