// Debian chroots for tests that need another Debian release than the machine's: Debian 13 to
// install the .deb into (test/packaging/debian.test.ts), Debian 13 and forky for their GNOME
// Shell 48 and 50 (test/desktop/gnome-shell*.test.ts).
//
// Each is built once with mmdebstrap from deb.debian.org and cached in $ROVY_CHROOT_CACHE
// (default /var/tmp/rovy-test-chroots), one directory per name and key, the key a hash of the
// suite, mirror and mmdebstrap options (which name the packages): root/ is the pristine chroot,
// never written after it is built (tests mount an overlay on it or only read it), and archives/
// keeps the .debs apt downloads into it. An entry older than MAX_AGE_DAYS is built again (the
// archive moves on); delete the directory to force it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MIRROR = 'http://deb.debian.org/debian';
const CACHE = process.env.ROVY_CHROOT_CACHE ?? '/var/tmp/rovy-test-chroots';
const MAX_AGE_DAYS = 7;
const BUILD_TIMEOUT_MS = 15 * 60_000;

export interface ChrootSpec {
  /** Names the cache entry; a new key replaces older entries of the same name only. */
  name: string;
  suite: string;
  /** mmdebstrap's options. */
  options: string[];
}

export interface Chroot {
  root: string;
  archives: string;
}

/** The cached chroot for `spec`, built now if there is none or it is too old. */
export function cachedChroot(spec: ChrootSpec, log: (msg: string) => void): Chroot {
  const key = createHash('sha256').update(JSON.stringify([spec.suite, MIRROR, spec.options])).digest('hex').slice(0, 16);
  const dir = join(CACHE, `${spec.name}-${key}`);
  const stamp = join(dir, 'complete');
  mkdirSync(CACHE, { recursive: true });
  if (existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < MAX_AGE_DAYS * 86_400_000) {
    log(`chroot ${spec.name}: cached in ${dir}`);
    return { root: join(dir, 'root'), archives: join(dir, 'archives') };
  }
  // This name's entries of other keys (an older package list) go, and this key's stale one; a
  // half-built one goes once it is an hour old (younger, it may be another run's build).
  const ours = new RegExp(`^${spec.name}-[0-9a-f]{16}(\\.building-\\d+)?$`);
  for (const name of readdirSync(CACHE).filter((n) => ours.test(n))) {
    const path = join(CACHE, name);
    if (!name.includes('.building-') || Date.now() - statSync(path).mtimeMs > 3_600_000) rmSync(path, { recursive: true, force: true });
  }
  // Built under another name and renamed when complete, so an interrupted build is never used.
  const building = `${dir}.building-${process.pid}`;
  const start = process.hrtime.bigint();
  mkdirSync(building);
  const r = spawnSync('mmdebstrap', [...spec.options, spec.suite, join(building, 'root'), MIRROR], {
    encoding: 'utf8', maxBuffer: 256 << 20, timeout: BUILD_TIMEOUT_MS, killSignal: 'SIGKILL',
  });
  if (r.error || r.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`mmdebstrap ${spec.suite} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  }
  mkdirSync(join(building, 'archives', 'partial'), { recursive: true });
  writeFileSync(join(building, 'complete'), `${spec.suite} ${MIRROR} ${spec.options.join(' ')}\n`);
  renameSync(building, dir);
  log(`chroot ${spec.name}: built with mmdebstrap in ${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(1)} s, cached in ${dir}`);
  return { root: join(dir, 'root'), archives: join(dir, 'archives') };
}
