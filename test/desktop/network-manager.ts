// NetworkManager (Debian's, the real one) for desktop tests: inside a network namespace the test
// made, on the test's private system bus, with its own config, keyfile directory and state.
//
// In the namespace's own mount namespace: tmpfs over /run and /var/lib/NetworkManager, so nothing
// of the host's is written (no resolv.conf: rc-manager=unmanaged), and /sys read-only, without
// which NetworkManager waits forever for a udevd that these machines do not run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Daemon, Lab } from '../net/netns.js';
import { until } from '../wait.js';
import { run, type PrivateBus } from './buses.js';

const START = `set -e
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=755 tmpfs /var/lib/NetworkManager
mount -o remount,ro /sys
exec NetworkManager --debug --log-level=INFO --config="$0/NetworkManager.conf" --config-dir="$0/conf.d" \\
  --system-config-dir="$0/conf.d" --state-file="$0/NetworkManager.state" \\
  --intern-config="$0/NetworkManager-intern.conf" --pid-file="$0/NetworkManager.pid"
`;

export class NetworkManager {
  private process: Daemon | null = null;
  readonly dir: string;

  constructor(
    private readonly lab: Lab,
    private readonly bus: PrivateBus,
    readonly ns: string,
  ) {
    this.dir = lab.path('nm/');
    mkdirSync(join(this.dir, 'system-connections'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dir, 'conf.d'), { recursive: true });
    writeFileSync(
      join(this.dir, 'NetworkManager.conf'),
      [
        '[main]',
        'plugins=keyfile',
        // Never the host's /etc/resolv.conf: DNS settings are read back from DnsManager instead.
        'rc-manager=unmanaged',
        'dns=default',
        'no-auto-default=*',
        '[keyfile]',
        `path=${join(this.dir, 'system-connections')}`,
        '[logging]',
        'level=INFO',
        '',
      ].join('\n'),
    );
  }

  get log(): string {
    return this.process?.log ?? '';
  }

  /** Starts it and waits until it has finished starting up (Manager.Startup false). */
  async start(): Promise<void> {
    this.process = this.lab.spawn(this.ns, ['env', `DBUS_SYSTEM_BUS_ADDRESS=${this.bus.address}`, 'sh', '-c', START, this.dir]);
    const proc = this.process;
    await until(
      'NetworkManager to start',
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`NetworkManager exited:\n${proc.log}`);
        const r = await this.busctl('get-property', 'org.freedesktop.NetworkManager', '/org/freedesktop/NetworkManager', 'org.freedesktop.NetworkManager', 'Startup');
        return r.stdout.trim() === 'b false';
      },
      15_000,
    );
  }

  async stop(): Promise<void> {
    await this.process?.stop();
    this.process = null;
  }

  busctl(...args: string[]): ReturnType<typeof run> {
    return run('busctl', ['--system', ...args], this.bus.env);
  }

  /** nmcli on the private bus; it finds NetworkManager over D-Bus, from any namespace. */
  nmcli(...args: string[]): ReturnType<typeof run> {
    return run('nmcli', args, this.bus.env);
  }
}
