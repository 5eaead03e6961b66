// The system user rovy for tests that run the daemon as the service does. It is made the
// project's way (systemd-sysusers with packaging/systemd/rovy.sysusers, as installing the package
// does) and, if this test made it, removed again at the end: a machine the tests ran on keeps no
// user it did not have, and one where rovy is installed keeps its own.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './repo-root.js';

export interface SystemUser {
  uid: number;
  gid: number;
  /**
   * `dir/state`, the user's alone (0700), as StateDirectory=rovy makes /var/lib/rovy; `dir` is
   * opened to all (0755), as /etc/rovy is, so the config beside it can be read.
   */
  stateDir(dir: string): string;
  /** Removes the user and its group if this test made them. */
  remove(): void;
}

const id = (flag: string): number => Number(execFileSync('id', [flag, 'rovy'], { encoding: 'utf8' }));
const exists = (): boolean => {
  try {
    id('-u');
    return true;
  } catch {
    return false;
  }
};

export function rovyUser(): SystemUser {
  const made = !exists();
  execFileSync('systemd-sysusers', [join(ROOT, 'packaging', 'systemd', 'rovy.sysusers')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const uid = id('-u');
  const gid = id('-g');
  return {
    uid,
    gid,
    stateDir(dir) {
      chmodSync(dir, 0o755);
      const state = join(dir, 'state');
      mkdirSync(state);
      chownSync(state, uid, gid);
      chmodSync(state, 0o700);
      return state;
    },
    remove() {
      if (!made || !exists()) return;
      execFileSync('userdel', ['rovy'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // userdel takes the group with the user where USERGROUPS_ENAB says so; not everywhere.
      try {
        execFileSync('groupdel', ['rovy'], { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch {
        // already gone with the user
      }
    },
  };
}
