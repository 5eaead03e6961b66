// `rovy id`: the node's peer ID and fc00::/8 address, read from its key file. Needs no daemon
// and creates nothing.
import { loadConfig } from '../../src/config/config.js';
import { loadKey } from '../../src/keys/keyfile.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { fcAddressBytes, formatIPv6 } from '../../src/keys/address.js';

export function runId(configPath: string, explicit: boolean, json: boolean): number {
  try {
    const config = loadConfig(configPath, { mustExist: explicit });
    const key = loadKey(config.keyFile);
    const peerId = encodePeerId(key.publicKey);
    const address = formatIPv6(fcAddressBytes(key.publicKey));
    process.stdout.write(json ? JSON.stringify({ peerId, address }) + '\n' : `peer id  ${peerId}\naddress  ${address}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`rovy id: ${(err as Error).message}\n`);
    return 1;
  }
}
