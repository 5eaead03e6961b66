// Handshake messages (types 1-3) as a node's session layer receives them, from anywhere. The first
// byte chooses how: the message type; whether to add a valid mac1 (and so reach the Noise
// processing, which random bytes never would); whether the node is under load (cookies, mac2,
// the per-source limit); whether to aim at the index of the node's own pending handshake. The
// rest is the message body. Nothing may throw; nothing may call internalError.
import { SessionManager } from '../../src/session/manager.js';
import { Peer } from '../../src/session/peer.js';
import { MacGenerator } from '../../src/noise/cookie.js';
import { COOKIE_REPLY_SIZE, INITIATION_SIZE, RESPONSE_SIZE } from '../../src/noise/constants.js';
import { writeU32LE } from '../../src/noise/messages.js';
import { fcAddressBytes, formatIPv6 } from '../../src/keys/address.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { Counters } from '../../src/util/counters.js';
import { LOCAL, PEER } from '../keys.js';

const clock = { mono: 0, wall: 1_767_225_600_000 };
const endpoint = new Uint8Array(32);
endpoint.set([6, 0, 0x1e, 0x61, 0xfd], 0);

function manager(underLoad: boolean): { sessions: SessionManager; peer: Peer } {
  const sessions = new SessionManager(
    LOCAL,
    {
      sendDatagram: () => {},
      sessionUp: () => {},
      sessionDown: () => {},
      internalError: (err) => {
        throw err;
      },
    },
    new Counters(),
    { now: () => clock.mono, wallNow: () => clock.wall, underLoadBudgetMs: underLoad ? 0 : Infinity, handshakeHardCapMs: Infinity },
  );
  const address = fcAddressBytes(PEER.publicKey);
  const peer = new Peer({ publicKey: PEER.publicKey, peerId: encodePeerId(PEER.publicKey), address, addressText: formatIPv6(address), endpoint: endpoint.slice(), psk: new Uint8Array(32), keepaliveMs: 0 });
  sessions.addPeer(peer);
  return { sessions, peer };
}

const calm = manager(false);
const loaded = manager(true);
const macs = new MacGenerator(LOCAL.publicKey);
const SIZES = [INITIATION_SIZE, RESPONSE_SIZE, COOKIE_REPLY_SIZE];

export function fuzz(data: Buffer): void {
  if (data.length < 1) return;
  const mode = data[0]!;
  const type = 1 + (mode % 3);
  const { sessions, peer } = mode & 0x10 ? loaded : calm;
  // A new accounting window every time, and the clock moving on as a node's does.
  clock.mono += 200;
  clock.wall += 200;
  const exactSize = (mode & 0x40) === 0;
  const message = new Uint8Array(exactSize ? SIZES[type - 1]! : Math.min(data.length - 1, 2048));
  message.set(data.subarray(1, 1 + message.length));
  if (exactSize) message.set([type, 0, 0, 0]);
  if (mode & 0x20) {
    // Our own handshake in flight, so a response or cookie reply can name its index.
    if (!peer.handshake) sessions.initiate(peer, clock.mono, true);
    const index = peer.handshake?.localIndex ?? 0;
    if (type === 2 && message.length >= 12) writeU32LE(message, 8, index);
    if (type === 3 && message.length >= 8) writeU32LE(message, 4, index);
  }
  if (mode & 0x80 && type !== 3 && message.length > 32) macs.addMacs(message);
  sessions.handleHandshake(message, endpoint);
}
