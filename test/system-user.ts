// The system user rovy for tests that run the daemon as the service does. It is made the
// project's way (systemd-sysusers with packaging/systemd/rovy.sysusers, as installing the package
// does) and, if this test made it, removed again at the end: a machine the tests ran on keeps no
// user it did not have, and one where rovy is installed keeps its own.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './repo-root.js';

export interface SystemUser {
  uid: number;
  gid: number;
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
  return {
    uid: id('-u'),
    gid: id('-g'),
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
