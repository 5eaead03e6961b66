// Interface setup without NetworkManager (and before it takes over): name, MTU, the node's address/8 (which gives the route
// fc00::/8 with it) and link state, through iproute2. Failures name the command that failed.
import { execFileSync } from 'node:child_process';

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
  }
}

/** Brings `name` up with `address`/8 and `mtu`. The kernel adds the fc00::/8 route with the address. */
export function configureInterface(name: string, address: string, mtu: number): void {
  // No link-local address: nothing on the mesh uses one, and without it the kernel stays quiet
  // (no router solicitations or MLD reports read back from the TUN).
  ip('link', 'set', 'dev', name, 'addrgenmode', 'none');
  setMtu(name, mtu);
  // replace, not add: switching the mesh back on runs this again, and whether the kernel kept
  // the address over link down depends on keep_addr_on_down.
  ip('-6', 'addr', 'replace', `${address}/8`, 'dev', name, 'nodad');
  ip('link', 'set', 'dev', name, 'up');
}

/** Sets the MTU only: NetworkManager configures the rest of an interface it manages. */
export function setMtu(name: string, mtu: number): void {
  ip('link', 'set', 'dev', name, 'mtu', String(mtu));
}

/** Sets the link up or down (the mesh switched on or off). */
export function setLinkUp(name: string, up: boolean): void {
  ip('link', 'set', 'dev', name, up ? 'up' : 'down');
}
