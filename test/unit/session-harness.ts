// Two in-process session managers joined by an in-memory wire that the test controls: messages
// can be lost, duplicated and reordered, and the clocks moved. Shared by the session tests.
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { fcAddressBytes, formatIPv6 } from '../../src/keys/address.js';
import { SessionManager } from '../../src/session/manager.js';
import { encodeTransportHeader, readU32LE } from '../../src/noise/messages.js';
import { Initiation } from '../../src/noise/handshake.js';
import { MacGenerator } from '../../src/noise/cookie.js';
import { tai64nNow } from '../../src/noise/tai64n.js';
import { Peer } from '../../src/session/peer.js';
import { Counters } from '../../src/util/counters.js';

export interface Side {
  name: string;
  manager: SessionManager;
  peer: Peer; // the other side, as this side knows it
  outbox: Uint8Array[];
  counters: Counters;
  endpoint: Uint8Array; // where this side's datagrams come from
  ups: number;
  downs: number;
}

export function endpointArea(last: number): Uint8Array {
  const e = new Uint8Array(32);
  e[0] = 6;
  e[2] = 0x1e;
  e[3] = 0x61; // port 7777
  e[4] = 0xfd;
  e[19] = last;
  return e;
}

export function setup(options: { budgetB?: number; hardCapB?: number; acceptPeerB?: (publicKey: Uint8Array) => Peer | undefined } = {}) {
  const clock = { mono: 1_000, wall: 1_700_000_000_000 };
  const now = () => clock.mono;
  const wallNow = () => clock.wall;
  const keysA = generateKeyPair();
  const keysB = generateKeyPair();
  const make = (name: string, own: typeof keysA, other: typeof keysA, otherEndpoint: Uint8Array, ownEndpoint: Uint8Array, underLoadBudgetMs?: number, handshakeHardCapMs?: number, acceptPeer?: (publicKey: Uint8Array) => Peer | undefined): Side => {
    const side = { name, outbox: [] as Uint8Array[], counters: new Counters(), endpoint: ownEndpoint, ups: 0, downs: 0 } as Side;
    side.manager = new SessionManager(
      own,
      {
        sendDatagram: (_endpoint, message) => side.outbox.push(message.slice()),
        sessionUp: () => side.ups++,
        sessionDown: () => side.downs++,
        internalError: (err) => {
          throw err;
        },
      },
      side.counters,
      { now, wallNow, underLoadBudgetMs, handshakeHardCapMs, acceptPeer },
    );
    const address = fcAddressBytes(other.publicKey);
    side.peer = new Peer({
      publicKey: other.publicKey,
      peerId: encodePeerId(other.publicKey),
      address,
      addressText: formatIPv6(address),
      endpoint: otherEndpoint.slice(),
      psk: new Uint8Array(32),
      keepaliveMs: 0,
    });
    side.manager.addPeer(side.peer);
    return side;
  };
  const a = make('A', keysA, keysB, endpointArea(2), endpointArea(1), Infinity);
  // Never under load unless a test asks (budgetB): the work is timed with the real clock while the
  // windows follow the harness's, which many tests never move, so a slow machine could otherwise
  // put B under load halfway through a test about something else.
  const b = make('B', keysB, keysA, endpointArea(1), endpointArea(2), options.budgetB ?? Infinity, options.hardCapB, options.acceptPeerB);
  return { a, b, clock, keysB };
}

/** Hands `message` (from `from`) to `to` as the receive path would. Returns true if it was accepted data. */
export function deliver(from: Side, to: Side, message: Uint8Array): boolean {
  if (message[0] !== 4) {
    to.manager.handleHandshake(message, from.endpoint);
    return false;
  }
  const entry = to.manager.indices.get(readU32LE(message, 4));
  const kp = entry?.keypair;
  if (!entry || !kp) return false;
  const counter = readU32LE(message, 8) + readU32LE(message, 12) * 2 ** 32;
  if (!kp.replay.mayAccept(counter)) return false;
  const buf = message.slice();
  const len = kp.receive.open(counter, buf, 16, buf.length - 16);
  if (len < 0 || !kp.replay.accept(counter)) return false;
  to.manager.receivedAuthenticated(entry, kp, len > 0, to.manager.now());
  return true;
}

export function flush(from: Side, to: Side): number {
  let n = 0;
  for (const m of from.outbox.splice(0)) {
    deliver(from, to, m);
    n++;
  }
  return n;
}

/** Runs the wire until both outboxes are empty. */
export function settle(a: Side, b: Side): void {
  while (flush(a, b) + flush(b, a) > 0);
}

export function sealData(side: Side, payload: Uint8Array): Uint8Array {
  const kp = side.manager.sendingKeypair(side.peer, side.manager.now());
  assert.ok(kp, `${side.name} has no keypair to send with`);
  const padded = (payload.length + 15) & ~15;
  const buf = new Uint8Array(16 + padded + 16);
  encodeTransportHeader(buf, kp.remoteIndex, kp.sendCounter);
  buf.set(payload, 16);
  const len = kp.send.seal(kp.sendCounter++, buf, 16, padded);
  return buf.subarray(0, 16 + len);
}

export const types = (box: Uint8Array[]): number[] => box.map((m) => m[0]!);


/** A valid (mac1-carrying) initiation to `responder` from a key it does not know. */
export function strangerInitiation(responder: Uint8Array, wallMs: number): Uint8Array {
  const stranger = generateKeyPair();
  const init = Initiation.create(stranger, responder, new Uint8Array(32), 7, tai64nNow(wallMs));
  new MacGenerator(responder).addMacs(init.message);
  return init.message;
}
