// A hostile link in userspace (this kernel has no netem): a UDP relay between two rovy nodes that
// loses, delays with jitter (and so reorders), duplicates and corrupts datagrams, each direction on
// its own, from a seeded random stream. test/net/hostile-network.test.ts runs it in a namespace
// between the two.
//
//   node impair.tool.js CONFIG-JSON
//     { "left": "IP:PORT", "leftPeer": "IP:PORT", "right": "IP:PORT", "rightPeer": "IP:PORT",
//       "loss": 0.1, "delayMs": 50, "jitterMs": 20, "duplicate": 0.01, "corrupt": 0.001, "seed": 1 }
//
// What arrives from leftPeer on `left` leaves from `right` to rightPeer, and the other way round.
// Prints "ready" once both sockets are bound; on SIGTERM prints what it did as one JSON line
// (per direction: datagrams in, lost, duplicated, corrupted, reordered, and handshake messages
// seen by type) and exits.
import { createSocket, type Socket } from 'node:dgram';

interface Config {
  left: string;
  leftPeer: string;
  right: string;
  rightPeer: string;
  loss: number;
  delayMs: number;
  jitterMs: number;
  duplicate: number;
  corrupt: number;
  seed: number;
}

/** What one direction of the relay did (printed on SIGTERM). */
export interface Stats {
  in: number;
  lost: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  initiations: number;
  responses: number;
  cookieReplies: number;
}

const config = JSON.parse(process.argv[2] ?? '') as Config;

/** xorshift32: the same impairments for the same seed. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

function hostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

function direction(from: Socket, to: Socket, peer: string, rand: () => number): Stats {
  const stats: Stats = { in: 0, lost: 0, duplicated: 0, corrupted: 0, reordered: 0, initiations: 0, responses: 0, cookieReplies: 0 };
  const dest = hostPort(peer);
  let arrived = 0;
  let latestSent = -1;
  const send = (datagram: Buffer, index: number) => {
    const jitter = (rand() * 2 - 1) * config.jitterMs;
    setTimeout(() => {
      if (index < latestSent) stats.reordered++;
      latestSent = Math.max(latestSent, index);
      to.send(datagram, dest.port, dest.host);
    }, Math.max(0, config.delayMs + jitter));
  };
  from.on('message', (msg) => {
    stats.in++;
    const type = msg[0];
    if (type === 1) stats.initiations++;
    else if (type === 2) stats.responses++;
    else if (type === 3) stats.cookieReplies++;
    const index = arrived++;
    if (rand() < config.loss) {
      stats.lost++;
      return;
    }
    if (rand() < config.corrupt) {
      stats.corrupted++;
      msg[Math.floor(rand() * msg.length)]! ^= 1 << Math.floor(rand() * 8);
    }
    send(msg, index);
    if (rand() < config.duplicate) {
      stats.duplicated++;
      send(Buffer.from(msg), index);
    }
  });
  return stats;
}

const left = createSocket('udp4');
const right = createSocket('udp4');
const rand = random(config.seed);
const stats = {
  leftToRight: direction(left, right, config.rightPeer, rand),
  rightToLeft: direction(right, left, config.leftPeer, rand),
};
let bound = 0;
const ready = () => {
  if (++bound === 2) console.log('ready');
};
const l = hostPort(config.left);
const r = hostPort(config.right);
left.bind(l.port, l.host, ready);
right.bind(r.port, r.host, ready);
process.on('SIGTERM', () => {
  console.log(JSON.stringify(stats));
  left.close();
  right.close();
  process.exit(0);
});
