// Meshes of namespaces for the network tests: one namespace per node, a veth per link, and each
// node's config listing exactly its neighbours.
import { nsExec, type Lab } from './netns.js';

export interface MeshNode {
  ns: string;
  config: string;
  peerId: string;
  address: string;
}

export interface Mesh {
  nodes: MeshNode[];
  /** Veth names per edge "i-j": [name in i's namespace, name in j's namespace]. */
  veths: Map<string, [string, string]>;
}

/** Namespaces joined by veths along `edges`; each node's config lists exactly its neighbours. */
export function buildMesh(lab: Lab, prefix: string, count: number, edges: [number, number][]): Mesh {
  const nodes: MeshNode[] = [];
  for (let i = 0; i < count; i++) nodes.push({ ns: lab.namespace(`${prefix}${i}`), ...lab.initNode(`${prefix}${i}`) });
  const peers: string[][] = nodes.map(() => []);
  const veths = new Map<string, [string, string]>();
  for (const [i, j] of edges) {
    const net = `fd00:${i + 1}:${j + 1}`;
    veths.set(`${i}-${j}`, lab.link(nodes[i]!.ns, `${net}::1`, nodes[j]!.ns, `${net}::2`));
    peers[i]!.push(`[[peer]]\naddress = "/ip6/${net}::2/udp/7777/rovy/${nodes[j]!.peerId}"`);
    peers[j]!.push(`[[peer]]\naddress = "/ip6/${net}::1/udp/7777/rovy/${nodes[i]!.peerId}"`);
  }
  nodes.forEach((node, i) => {
    // iperf3's port open: the inbound filter keeps every other one closed.
    lab.file(`${prefix}${i}/rovy.toml`, ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[tun]', 'name = "rovy0"', 'mtu = 1420', '[ports]', 'allow = ["5201/tcp"]', ...peers[i]!].join('\n'));
  });
  return { nodes, veths };
}

/** One ping from `from` to `to`, waiting `-W 1` (or as `extra` says). */
export function ping(from: MeshNode, to: MeshNode, extra: string[] = []): { code: number; out: string } {
  return nsExec(from.ns, 'ping', ['-6', '-n', '-c', '1', '-W', '1', ...extra, to.address]);
}
