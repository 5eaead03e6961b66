// The routed prefixes this node forwards to (issue 15, 1): every claim other nodes announce
// (routing/router.ts claims()), judged by this node's own policy (routing/prefix-policy.ts), and
// the accepted ones in a longest-prefix-match table (fcnet/prefix-table.ts) that the send path
// asks where a packet for an address outside fc00::/8 goes.
//
// A prefix that two nodes claim, both accepted, is used for neither: a conflict is reported and
// logged, never settled by picking one in silence — another node, judging by its own policy,
// might pick the other, and the traffic would split without anyone being told. (A more specific
// prefix inside another node's is no conflict: it is how routing works.)
//
// A default route (::/0, 0.0.0.0/0) is no one's network: it is an exit's offer, never judged by
// the policy nor in conflict. Offers are listed; only the exit the user chose (choose()) goes in
// the table, for the families it offers, so that every address no other prefix holds goes there.
import type { Router } from '../routing/router.js';
import type { PrefixPolicy, ClaimVerdict } from '../routing/prefix-policy.js';
import { PrefixTable } from '../fcnet/prefix-table.js';
import { formatPrefix, isDefaultRoute, parsePrefix, type Prefix } from '../fcnet/prefix.js';
import { equalBytes } from '../util/bytes.js';
import { encodePeerId } from '../keys/peerid.js';

/** One claim as judged: "conflict" when another node's equal claim was accepted too, "exit"
 *  for a default route (an exit's offer). */
export interface ClaimStatus {
  prefix: string;
  origin: string;
  verdict: ClaimVerdict | 'conflict' | 'exit';
}

/** A node that offers an exit, and for which families. */
export interface ExitOffer {
  peerId: string;
  publicKey: Uint8Array;
  ipv4: boolean;
  ipv6: boolean;
}

/** What a prefix of this node's own is: one it announces, or the default route of its exit. */
export type OwnKind = 'prefix' | 'exit';

const DEFAULT_ROUTES = { 4: parsePrefix('0.0.0.0/0'), 6: parsePrefix('::/0') } as const;

/** Claims are judged again at least this often, so an expired delegation stops counting. */
const REJUDGE_MS = 60_000;
/** Claims judged per node, at most: a node announcing thousands would make every judgement cost
 *  thousands of signature checks. The rest are ignored, as refused, and said once. */
export const MAX_CLAIMS_PER_NODE = 256;
/** Claims already logged as refused or in conflict, so that each is said once. Bounded. */
const LOGGED_MAX = 1024;

export class RoutedPrefixes {
  /** Origin key per accepted prefix. */
  private table = new PrefixTable<Uint8Array>();
  /** The prefixes this node announces itself: what it takes off the mesh for the host to route. */
  private own = new PrefixTable<OwnKind>();
  /** The accepted prefixes and their origins, as text, to tell whether a new judgement changed them. */
  private summary = '';
  private acceptedList: Prefix[] = [];
  private claims: ClaimStatus[] = [];
  private offers = new Map<string, ExitOffer>();
  /** The exit the user chose, by key; null for none. */
  private chosen: Uint8Array | null = null;
  private epoch = -1;
  private judgedAt = -Infinity;
  private readonly logged = new Set<string>();

  constructor(
    private readonly policy: PrefixPolicy,
    private readonly log: (level: 'warn' | 'info', message: string) => void,
  ) {}

  /** Judges the claims again if they changed, or a while has passed (delegations expire), or
   *  `force` (the policy changed). Returns whether the table changed. */
  update(router: Router, now: number, wallNow: number, force = false): boolean {
    if (!force && router.prefixEpoch === this.epoch && now - this.judgedAt < REJUDGE_MS) return false;
    this.epoch = router.prefixEpoch;
    this.judgedAt = now;
    const accepted = new Map<string, { prefix: Prefix; origin: Uint8Array; status: ClaimStatus }>();
    const claims: ClaimStatus[] = [];
    const offers = new Map<string, ExitOffer>();
    for (const { publicKey, prefixes } of router.claims()) {
      const origin = encodePeerId(publicKey);
      if (prefixes.length > MAX_CLAIMS_PER_NODE) this.say(`many ${origin}`, `${origin} claims ${prefixes.length} routed prefixes: only the first ${MAX_CLAIMS_PER_NODE} are judged`);
      for (const { prefix, delegation } of prefixes.slice(0, MAX_CLAIMS_PER_NODE)) {
        const text = formatPrefix(prefix);
        if (isDefaultRoute(prefix)) {
          claims.push({ prefix: text, origin, verdict: 'exit' });
          const offer = offers.get(origin) ?? { peerId: origin, publicKey, ipv4: false, ipv6: false };
          if (prefix.family === 4) offer.ipv4 = true;
          else offer.ipv6 = true;
          offers.set(origin, offer);
          continue;
        }
        const status: ClaimStatus = { prefix: text, origin, verdict: this.policy.judge(publicKey, origin, prefix, delegation, wallNow) };
        claims.push(status);
        if (status.verdict === 'refused') {
          this.say(`refused ${text} ${origin}`, `routed prefix ${text} claimed by ${origin}: refused (no grant or trusted delegation for it in [prefixes])`);
          continue;
        }
        const other = accepted.get(text);
        if (!other) {
          accepted.set(text, { prefix, origin: publicKey, status });
          continue;
        }
        if (other.status.origin === origin) continue; // the same claim twice
        status.verdict = 'conflict';
        other.status.verdict = 'conflict';
        this.say(`conflict ${text} ${origin} ${other.status.origin}`, `routed prefix ${text} is claimed by both ${other.status.origin} and ${origin}: used for neither until one withdraws`);
      }
    }
    const table = new PrefixTable<Uint8Array>();
    const summary: string[] = [];
    const list: Prefix[] = [];
    for (const { prefix, origin, status } of accepted.values()) {
      if (status.verdict === 'conflict') continue;
      table.set(prefix, origin);
      list.push(prefix);
      summary.push(`${status.prefix} ${status.origin}`);
    }
    const exit = this.chosen ? offers.get(encodePeerId(this.chosen)) : undefined;
    for (const family of [4, 6] as const) {
      if (!exit || !(family === 4 ? exit.ipv4 : exit.ipv6)) continue;
      table.set(DEFAULT_ROUTES[family], exit.publicKey);
      list.push(DEFAULT_ROUTES[family]);
      summary.push(`${formatPrefix(DEFAULT_ROUTES[family])} ${exit.peerId}`);
    }
    this.claims = claims;
    this.offers = offers;
    this.table = table;
    this.acceptedList = list;
    const text = summary.sort().join('\n');
    if (text === this.summary) return false;
    this.summary = text;
    return true;
  }

  /** The key of the node a packet for the address at buf[off, off + 4 or 16) goes to, by the
   *  longest accepted prefix containing it; undefined if none does. Allocates nothing. */
  lookup(family: 4 | 6, buf: Uint8Array, off: number): Uint8Array | undefined {
    return this.table.lookup(family, buf, off);
  }

  /** The prefixes this node takes off the mesh: those it announces (a default route among them
   *  when it is an exit), and its own mesh IPv4 address while it uses an exit. */
  setOwn(prefixes: readonly Prefix[]): void {
    const own = new PrefixTable<OwnKind>();
    for (const p of prefixes) own.set(p, isDefaultRoute(p) ? 'exit' : 'prefix');
    this.own = own;
  }

  /** Whether the address at buf[off, off + 4 or 16) lies in a prefix of this node's, and which
   *  kind: 'exit' when only its exit's default route holds it. Allocates nothing. */
  ownKind(family: 4 | 6, buf: Uint8Array, off: number): OwnKind | undefined {
    return this.own.lookup(family, buf, off);
  }

  /** Uses the exit of `publicKey` (null: none) from the next update on. */
  choose(publicKey: Uint8Array | null): void {
    this.chosen = publicKey;
  }

  /** The exit in use: chosen, and still offering. */
  chosenExit(): ExitOffer | null {
    return this.chosen ? (this.offers.get(encodePeerId(this.chosen)) ?? null) : null;
  }

  /** The nodes that offer an exit now. */
  exitOffers(): ExitOffer[] {
    return [...this.offers.values()];
  }

  /** Whether the node of `key` may send from the address at buf[off]: the longest accepted
   *  prefix containing it is that node's. Allocates nothing. */
  isFrom(family: 4 | 6, buf: Uint8Array, off: number, key: Uint8Array): boolean {
    const origin = this.table.lookup(family, buf, off);
    return origin !== undefined && equalBytes(origin, key);
  }

  /** The prefixes routed into the mesh now: accepted, and in no conflict. */
  accepted(): Prefix[] {
    return this.acceptedList.slice();
  }

  /** Every claim heard, with what this node made of it. */
  list(): ClaimStatus[] {
    return this.claims.map((c) => ({ ...c }));
  }

  /** How many claims are accepted, refused, and in conflict, and how many nodes offer an exit. */
  report(): { accepted: number; refused: number; conflicts: number; exits: number } {
    let accepted = 0;
    let refused = 0;
    let conflicts = 0;
    for (const c of this.claims) {
      if (c.verdict === 'refused') refused++;
      else if (c.verdict === 'conflict') conflicts++;
      else if (c.verdict !== 'exit') accepted++;
    }
    return { accepted, refused, conflicts, exits: this.offers.size };
  }

  private say(key: string, message: string): void {
    if (this.logged.has(key)) return;
    if (this.logged.size >= LOGGED_MAX) this.logged.delete(this.logged.values().next().value!);
    this.logged.add(key);
    this.log('warn', message);
  }
}
