// A line of real nodes in one process, on the in-memory transport and TUNs: node i is configured
// with nodes i - 1 and i + 1 as its peers, or with those the links given instead say. Shared by
// the tests that run the node's whole path without namespaces.
import type { TestContext } from 'node:test';
import { generateKeyPair, type KeyPair } from '../../src/keys/keypair.js';
import { MeshNode, type NodeOptions } from '../../src/node/node.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { MemoryHub, type MemoryTransport } from '../../src/transport/memory.js';

/** What a test may set of each node; the rest is the line's. */
export type LineNodeOptions = Partial<Omit<NodeOptions, 'identity' | 'tun' | 'sockets' | 'transports' | 'peers'>>;

export interface MemoryLine {
  readonly nodes: MeshNode[];
  readonly keys: KeyPair[];
  readonly tuns: MemoryTun[];
  /** What the nodes' datagrams cross: its tap drops them to cut a link. */
  readonly hub: MemoryHub;
  /** Where node i is reached on the hub (a peer's endpoint). */
  endpoint(i: number): MemoryTransport['endpoint'];
  /** Stops node i: it leaves the hub, and nothing reaches it. */
  stop(i: number): void;
  /** Starts stopped node i again with the same key and options, a new TUN and no state. */
  startAgain(i: number): MeshNode;
}

/** Where node i is reached on the hub (its address there, in `MemoryHub.tap`'s terms). */
export function hubAddress(i: number): string {
  return `fd00::${i + 1}`;
}

/** Starts the line, one node per entry of `options` (or the mesh of `links`, pairs of their
 *  indices); the test's end stops it. */
export function memoryLine(t: TestContext, options: LineNodeOptions[], links?: readonly (readonly [number, number])[]): MemoryLine {
  const hub = new MemoryHub();
  const addresses = options.map((_, i) => hubAddress(i));
  const mem: MemoryTransport[] = addresses.map((a) => hub.attach(a));
  const keys = options.map(() => generateKeyPair());
  const tuns: MemoryTun[] = [];
  const nodes: MeshNode[] = [];
  const make = (i: number): MeshNode => {
    const linked = links ? links.flatMap(([a, b]) => (a === i ? [b] : b === i ? [a] : [])) : [i - 1, i + 1].filter((j) => j >= 0 && j < options.length);
    const peers = linked.map((j) => ({ publicKey: keys[j]!.publicKey, endpoint: mem[j]!.endpoint }));
    tuns[i] = new MemoryTun();
    nodes[i] = new MeshNode({ mtu: 1420, ports: { filter: false, rules: [] }, ...options[i], identity: keys[i]!, tun: tuns[i]!, sockets: [], transports: [mem[i]!], peers });
    nodes[i]!.start();
    return nodes[i]!;
  };
  options.forEach((_, i) => make(i));
  t.after(() => {
    for (const n of nodes) n.stop();
    for (const m of mem) m.close();
  });
  return {
    nodes,
    keys,
    tuns,
    hub,
    endpoint: (i) => mem[i]!.endpoint,
    stop(i) {
      nodes[i]!.stop();
      mem[i]!.close();
    },
    startAgain(i) {
      mem[i] = hub.attach(addresses[i]!);
      return make(i);
    },
  };
}
