// Many routing agents in one process, joined by an in-memory transport, on a virtual clock: the
// harness for routing code whose state does not grow with the network (the trees, lookups), sized
// for 10,000 nodes. Each graph node runs a real agent (src/routing) with a real key pair; each
// link is a pair of interface indices (1.. per node, in adjacency order) with a fixed one-way
// latency drawn from a seeded range. A node ticks as the daemon does: every TICK_MS while its
// agent has work, once a second at rest. Frames and ticks share one heap ordered by time, then
// order queued. A rest tick before the agent's nextDue does nothing, so it is skipped: the node
// ticks next at the first second of its rest pace at or after nextDue, or sooner, at the next
// second of that pace, once a frame or a link event reaches it or it sends outside a tick. An
// idle hour of 10,000 nodes was 36 million rest ticks, most of the hour's wall time.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake2s } from '@noble/hashes/blake2.js';
import { isRovyKey } from '../../src/keys/address.js';
import { publicKeyFromPrivate, type KeyPair } from '../../src/keys/keypair.js';
import { TICK_MS } from '../../src/routing/constants.js';
import { LINK_BUSY_DEAD_MS, LINK_HELLO_LATE_MS, LINK_QUICK_PROBE_DEAD_MS, LINK_QUIET_MS } from '../../src/node/links.js';
import { rng, type Graph } from './graph.js';

/** Wall-clock origin of the virtual clock (sequence numbers are ms since the epoch). */
export const EPOCH = Date.UTC(2026, 0, 1);
const REST_TICK_MS = 1000;

export interface Agent {
  linkUp(link: number, key: Uint8Array): void;
  linkDown(link: number): void;
  receive(link: number, frame: Uint8Array): void;
  tick(): void;
  readonly hasWork: boolean;
  /** The earliest time a rest tick has something to do, if nothing reaches the agent before
   *  (Routing.nextDue); without it, every rest tick runs. */
  nextDue?(): number;
  /** Bytes of state held: a rest tick before nextDue leaves it as it was (auditRestTicks). */
  stateBytes?(): number;
}

/** What an agent is given to talk to the world. */
export interface AgentIo {
  index: number;
  keys: KeyPair;
  send(link: number, frame: Uint8Array): void;
  now(): number;
  wallNow(): number;
  /** The agent has work: tick it within TICK_MS. */
  workDue(): void;
}

export interface AgentSimOptions {
  seed?: number;
  latency?: [number, number];
  /** Share of frames lost on every link, each independently (seeded). */
  loss?: number;
  keys?: KeyPair[];
  /** Whether a frame is traffic as the daemon's receive path tells it (a packet or a routed
   *  message, not routing control): a neighbour a crashed node was sending traffic to probes it
   *  LINK_QUIET_MS after the last (crashNode). */
  isTraffic?(frame: Uint8Array): boolean;
  /** How old a failed node's (or link's) last hello is at the failure, ms: 0, the default, is the
   *  worst case (it went just before, so idle neighbours notice last); 500 the average. */
  lastHelloAge?: number;
  /** Run the rest ticks before an agent's nextDue too, and check that each does nothing: sends
   *  nothing, leaves no work, and leaves nextDue and the bytes of state as they were
   *  (restTickAudit). Off by default: skipping them is what makes an idle hour cheap. */
  auditRestTicks?: boolean;
}

export interface AgentNode<A extends Agent> {
  index: number;
  keys: KeyPair;
  agent: A;
  alive: boolean;
  /** peers[link] = neighbour node; link 0 unused. */
  peers: number[];
  ifaceTo: Map<number, number>;
  sentFrames: number;
  sentBytes: number;
  /** When the node ticks next, and a counter that makes older tick events stale. */
  nextTick: number;
  tickGen: number;
  /** When it last ticked: its rest pace counts whole seconds from there. */
  lastTick: number;
  /** Its agent's nextDue after that tick (-Infinity: it had work), and whether anything has
   *  reached it since (auditRestTicks). */
  due: number;
  touched: boolean;
}

interface Event {
  t: number;
  seq: number;
  /** -1: a tick of `to`; -2: `run`; else the link at `to` the frame arrives on. */
  link: number;
  to: number;
  frame: Uint8Array | null;
  /** Link generation when sent (a frame dies with its link), or the tick generation. */
  gen: number;
  run?: () => void;
}

export class AgentSim<A extends Agent> {
  readonly graph: Graph;
  readonly nodes: AgentNode<A>[] = [];
  now = 0;
  lostFrames = 0;
  /** Ticks run, at every node. */
  ticks = 0;
  private readonly heap: Event[] = [];
  private seq = 0;
  private readonly random: () => number;
  private readonly lossRandom: () => number;
  private readonly loss: number;
  private readonly linkGen = new Map<number, number>();
  private readonly latency = new Map<number, number>();
  private nextGen = 1;
  private readonly isTraffic: ((frame: Uint8Array) => boolean) | undefined;
  /** Links to crashed nodes whose failure a neighbour will notice, by when (linkKey). */
  private readonly noticeAt = new Map<number, number>();
  /** When traffic last arrived over each link, by direction (from * n + to). */
  private readonly trafficArrivedAt = new Map<number, number>();
  /** Links cut and not yet noticed (linkKey): frames on them are lost. */
  private readonly cut = new Set<number>();
  /** Nodes that hang (hangNode): their links still answer for them. */
  private readonly hung = new Set<number>();
  private readonly lastHelloAge: number;
  private readonly auditRestTicks: boolean;
  /** Rest ticks run before their agent's nextDue (auditRestTicks), and those that did something. */
  readonly restTickAudit = { ticks: 0, faults: [] as string[] };
  /** The node whose tick runs (what it sends then is no reason to tick again), or null. */
  private ticking: AgentNode<A> | null = null;

  constructor(graph: Graph, makeAgent: (io: AgentIo) => A, options: AgentSimOptions = {}) {
    this.graph = graph;
    this.random = rng(options.seed ?? 1);
    this.lossRandom = rng((options.seed ?? 1) ^ 0x10553);
    this.loss = options.loss ?? 0;
    this.isTraffic = options.isTraffic;
    this.lastHelloAge = options.lastHelloAge ?? 0;
    this.auditRestTicks = options.auditRestTicks ?? false;
    const [lo, hi] = options.latency ?? [1, 20];
    const keys = options.keys ?? simulationKeys(graph.n);
    for (let i = 0; i < graph.n; i++) {
      const phase = this.random() * REST_TICK_MS;
      const node: AgentNode<A> = {
        index: i,
        keys: keys[i]!,
        agent: null as unknown as A,
        alive: true,
        peers: [-1],
        ifaceTo: new Map(),
        sentFrames: 0,
        sentBytes: 0,
        nextTick: phase,
        tickGen: 0,
        lastTick: phase - REST_TICK_MS,
        due: -Infinity,
        touched: false,
      };
      for (const peer of graph.adjacency[i]!) {
        node.ifaceTo.set(peer, node.peers.length);
        node.peers.push(peer);
      }
      node.agent = makeAgent({
        index: i,
        keys: node.keys,
        send: (link, frame) => this.send(node, link, frame),
        now: () => this.now,
        wallNow: () => EPOCH + this.now,
        workDue: () => this.workDue(node),
      });
      this.nodes.push(node);
    }
    for (const [a, b] of graph.edges) this.latency.set(this.linkKey(a, b), lo + (hi - lo) * this.random());
  }

  /** Every link up, every node ticking, at the current time. */
  start(): void {
    for (const node of this.nodes) this.push({ t: node.nextTick, seq: 0, link: -1, to: node.index, frame: null, gen: node.tickGen });
    for (const [a, b] of this.graph.edges) this.linkUp(a, b);
  }

  linkIsUp(a: number, b: number): boolean {
    return this.linkGen.has(this.linkKey(a, b));
  }

  /** Where a route of node `from` leads, over links that are up: its first hop `link`, then each
   *  slot at each transit (-1: into a link that is down or does not exist). */
  follow(from: number, link: number, slots: Uint16Array): number {
    let at = this.nodes[from]!.peers[link];
    if (at === undefined || at < 0 || !this.linkIsUp(from, at)) return -1;
    for (const slot of slots) {
      const next = this.nodes[at]!.peers[slot];
      if (next === undefined || slot === 0 || !this.linkIsUp(at, next)) return -1;
      at = next;
    }
    return at;
  }

  linkUp(a: number, b: number): void {
    if (this.linkIsUp(a, b) || !this.nodes[a]!.alive || !this.nodes[b]!.alive) return;
    this.linkGen.set(this.linkKey(a, b), this.nextGen++);
    const na = this.nodes[a]!;
    const nb = this.nodes[b]!;
    na.agent.linkUp(na.ifaceTo.get(b)!, nb.keys.publicKey);
    nb.agent.linkUp(nb.ifaceTo.get(a)!, na.keys.publicKey);
    this.touch(na);
    this.touch(nb);
  }

  /** Takes a link down; both ends are told at once (detection is the caller's to add). */
  linkDown(a: number, b: number): void {
    if (!this.linkGen.delete(this.linkKey(a, b))) return;
    for (const [x, y] of [[a, b], [b, a]] as const) {
      const node = this.nodes[x]!;
      if (!node.alive) continue;
      node.agent.linkDown(node.ifaceTo.get(y)!);
      this.touch(node);
    }
  }

  /** A node stops: its links go down at its neighbours, and it sends and ticks no more. */
  failNode(n: number): void {
    const node = this.nodes[n]!;
    for (const peer of this.graph.adjacency[n]!) this.linkDown(n, peer);
    node.alive = false;
  }

  /**
   * A node crashes: it sends, receives and ticks no more, and its neighbours notice as the
   * daemon's links do (src/node/links.ts): one that sends it anything, LINK_BUSY_DEAD_MS after
   * the first such frame; one it was sending traffic to, LINK_QUICK_PROBE_DEAD_MS after the probe
   * that goes LINK_QUIET_MS after the last of it; the others LINK_QUICK_PROBE_DEAD_MS after the
   * probe that goes when its hello is late, LINK_HELLO_LATE_MS after the last. Its last hello is
   * `lastHelloAge` old at the crash (a node sends all of its hellos at once, so for its
   * neighbours they are equally old): by default it went just before, the worst case.
   */
  crashNode(n: number): void {
    const node = this.nodes[n]!;
    node.alive = false;
    for (const peer of this.graph.adjacency[n]!) this.noticeBy(peer, n, this.silentSince(n, peer));
  }

  /** A link fails at both ends at once (a cable cut), noticed as crashNode says, by the end that
   *  notices first. */
  cutLink(a: number, b: number): void {
    this.cut.add(this.linkKey(a, b));
    this.noticeBy(a, b, Math.min(this.silentSince(a, b), this.silentSince(b, a)));
  }

  /** When `to` notices that `from` fell silent now, unless it sends `from` something meanwhile. */
  private silentSince(from: number, to: number): number {
    const probeAt = (this.trafficArrivedAt.get(from * this.graph.n + to) ?? -Infinity) + LINK_QUIET_MS;
    // A probe before now was answered: the flow had ended, and the link is idle.
    return (probeAt >= this.now ? probeAt : this.now - this.lastHelloAge + LINK_HELLO_LATE_MS) + LINK_QUICK_PROBE_DEAD_MS;
  }

  /** Runs `fn` at virtual time `t`. */
  at(t: number, fn: () => void): void {
    this.push({ t, seq: this.seq++, link: -2, to: 0, frame: null, gen: 0, run: fn });
  }

  private noticeBy(a: number, b: number, t: number): void {
    const key = this.linkKey(a, b);
    const due = this.noticeAt.get(key);
    if (due !== undefined && due <= t) return;
    this.noticeAt.set(key, t);
    this.at(t, () => {
      if (this.noticeAt.get(key) !== t) return;
      this.noticeAt.delete(key);
      this.cut.delete(key);
      this.linkDown(a, b);
    });
  }

  /** A node hangs: it sends, receives and ticks no more, but its links stay up at its
   *  neighbours (nothing tells them it is gone). */
  hangNode(n: number): void {
    this.nodes[n]!.alive = false;
    this.hung.add(n);
  }

  runUntil(t: number): void {
    for (;;) {
      const e = this.heap[0];
      if (!e || e.t > t) break;
      this.pop();
      this.now = e.t;
      if (e.link === -2) {
        e.run!();
        continue;
      }
      const node = this.nodes[e.to]!;
      if (!node.alive) continue;
      if (e.link < 0) {
        if (e.gen !== node.tickGen) continue;
        const audited = this.auditRestTicks && !node.touched && this.now < node.due;
        const sent = node.sentFrames;
        const held = audited ? node.agent.stateBytes?.() : undefined;
        this.ticks++;
        this.ticking = node;
        node.agent.tick();
        this.ticking = null;
        node.lastTick = this.now;
        node.touched = false;
        const due = node.due;
        const busy = node.agent.hasWork;
        node.due = busy ? -Infinity : (node.agent.nextDue?.() ?? -Infinity);
        if (audited) this.audit(node, sent, due, held);
        this.scheduleTick(node, busy ? this.now + TICK_MS : this.restTickAfter(node, node.due));
      } else if (this.linkGen.get(this.linkKey(e.to, node.peers[e.link]!)) === e.gen) {
        if (this.isTraffic?.(e.frame!)) this.trafficArrivedAt.set(node.peers[e.link]! * this.graph.n + e.to, this.now);
        node.agent.receive(e.link, e.frame!);
        this.touch(node);
      }
    }
    this.now = Math.max(this.now, t);
  }

  run(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Runs in steps of `stepMs` until `done()` holds (returns the virtual time) or `limitMs` passes (null). */
  runUntilTrue(done: () => boolean, limitMs: number, stepMs = 100): number | null {
    const end = this.now + limitMs;
    while (this.now < end) {
      if (done()) return this.now;
      this.run(stepMs);
    }
    return done() ? this.now : null;
  }

  /** Frames and bytes sent by every node since the last call (or the start). */
  takeTraffic(): { frames: number; bytes: number; perNode: Float64Array } {
    let frames = 0;
    let bytes = 0;
    const perNode = new Float64Array(this.nodes.length);
    for (const node of this.nodes) {
      frames += node.sentFrames;
      bytes += node.sentBytes;
      perNode[node.index] = node.sentBytes;
      node.sentFrames = 0;
      node.sentBytes = 0;
    }
    return { frames, bytes, perNode };
  }

  /** After a tick that left no work: the first second of the rest pace at or after `due`, the
   *  agent's nextDue (Infinity: none, until something reaches it). */
  private restTickAfter(node: AgentNode<A>, due: number): number {
    if (this.auditRestTicks) return this.restSecond(node, node.lastTick, false);
    return due === Infinity ? Infinity : this.restSecond(node, due, true);
  }

  /** The first second of the node's rest pace (whole seconds from its last tick, the first one
   *  at the soonest) after `t`, or at or after it if `orAt`. */
  private restSecond(node: AgentNode<A>, t: number, orAt: boolean): number {
    const seconds = (t - node.lastTick) / REST_TICK_MS;
    return node.lastTick + REST_TICK_MS * Math.max(1, orAt ? Math.ceil(seconds) : Math.floor(seconds) + 1);
  }

  /** A rest tick before the nextDue its agent gave (`due`), nothing having reached it since. */
  private audit(node: AgentNode<A>, sentBefore: number, due: number, heldBefore: number | undefined): void {
    this.restTickAudit.ticks++;
    const sent = node.sentFrames - sentBefore;
    const held = node.agent.stateBytes?.();
    if (sent === 0 && node.due === due && held === heldBefore) return;
    this.restTickAudit.faults.push(`node ${node.index} at ${this.now} ms, due ${due}: sent ${sent} frames, due now ${node.due}, state ${heldBefore} to ${held} bytes`);
  }

  /** Something reached the node (or it sent between ticks): it ticks at the next second of its
   *  rest pace, as it would have with no tick skipped, to see what that changed. */
  private touch(node: AgentNode<A>): void {
    if (this.ticking === node) return;
    node.touched = true;
    const next = this.restSecond(node, this.now, false);
    if (node.nextTick > next) this.scheduleTick(node, next);
  }

  private workDue(node: AgentNode<A>): void {
    if (this.ticking !== node) node.touched = true;
    const at = this.now + TICK_MS;
    if (node.nextTick > at) this.scheduleTick(node, at);
  }

  private scheduleTick(node: AgentNode<A>, t: number): void {
    node.nextTick = t;
    node.tickGen++;
    if (t !== Infinity) this.push({ t, seq: this.seq++, link: -1, to: node.index, frame: null, gen: node.tickGen });
  }

  private send(node: AgentNode<A>, link: number, frame: Uint8Array): void {
    if (!node.alive) return;
    this.touch(node);
    const peer = node.peers[link];
    if (peer === undefined || link === 0) throw new Error(`node ${node.index} sent on unknown interface ${link}`);
    const key = this.linkKey(node.index, peer);
    const gen = this.linkGen.get(key);
    if (gen === undefined) return; // the agent has not been told yet: lost, as on a dead link
    node.sentFrames++;
    node.sentBytes += frame.length;
    if (!this.nodes[peer]!.alive || this.cut.has(key)) {
      // Into a failure not yet noticed: lost. Every frame is a non-empty plaintext, which the
      // daemon's links expect an answer to: the sender notices within LINK_BUSY_DEAD_MS (unless
      // the node hangs, its links answering still).
      if (!this.hung.has(peer)) this.noticeBy(node.index, peer, this.now + LINK_BUSY_DEAD_MS);
      return;
    }
    if (this.loss > 0 && this.lossRandom() < this.loss) {
      this.lostFrames++;
      return;
    }
    this.push({ t: this.now + this.latency.get(key)!, seq: this.seq++, link: this.nodes[peer]!.ifaceTo.get(node.index)!, to: peer, frame, gen });
  }

  private linkKey(a: number, b: number): number {
    return a < b ? a * this.graph.n + b : b * this.graph.n + a;
  }

  private push(e: Event): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && earlier(h[r]!, h[l]!) ? r : l;
      if (!earlier(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}

function earlier(a: Event, b: Event): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

/**
 * n key pairs for a simulation, the same on every machine: key i is the first draw
 * BLAKE2s("rovy simulation key" ‖ i ‖ draw) that is a rovy key, so a test's roots and trees do
 * not change from run to run. Finding one takes ~256 draws (15 ms), 2.5 minutes for 10,000 nodes,
 * so the private keys are kept in a file under the temporary directory and reused; they are
 * simulation keys and nothing else.
 */
export function simulationKeys(n: number): KeyPair[] {
  const dir = join(tmpdir(), 'rovy-sim-keys');
  const file = join(dir, 'derived-keys.bin');
  let stored = existsSync(file) ? new Uint8Array(readFileSync(file)) : new Uint8Array(0);
  const have = Math.floor(stored.length / 32);
  if (have < n) {
    const grown = new Uint8Array(n * 32);
    grown.set(stored.subarray(0, have * 32));
    for (let i = have; i < n; i++) grown.set(derivedKey(i), i * 32);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, grown, { mode: 0o600 });
    stored = grown;
  }
  const keys: KeyPair[] = [];
  for (let i = 0; i < n; i++) {
    const privateKey = stored.slice(i * 32, (i + 1) * 32);
    keys.push({ privateKey, publicKey: publicKeyFromPrivate(privateKey) });
  }
  return keys;
}

const KEY_DOMAIN = new TextEncoder().encode('rovy simulation key');

function derivedKey(index: number): Uint8Array {
  const input = new Uint8Array(KEY_DOMAIN.length + 8);
  input.set(KEY_DOMAIN);
  const view = new DataView(input.buffer);
  view.setUint32(KEY_DOMAIN.length, index);
  for (let draw = 0; ; draw++) {
    view.setUint32(KEY_DOMAIN.length + 4, draw);
    const privateKey = blake2s(input);
    // Clamped as RFC 7748 §5 says, as every rovy private key is.
    privateKey[0] = privateKey[0]! & 248;
    privateKey[31] = (privateKey[31]! & 127) | 64;
    if (isRovyKey(publicKeyFromPrivate(privateKey))) return privateKey;
  }
}
