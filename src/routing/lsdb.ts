// The link-state database: the newest announcement of every known node (its parts), and the link
// graph they describe, in the compact form SPF walks.
//
// Nodes are numbered: every origin held, and every address a holder outside names (a router, its
// own and its live links' neighbours), gets a small integer id (id-table.ts), so the graph is
// arrays of integers and SPF's working state is typed arrays indexed by id. A link is in the
// graph where its address had an id when its part was stored, or where the node it names was
// stored since naming its origin back (resolveNaming); any other is held in its part's bytes
// alone: most name no node the map holds (the nodes at the radius name neighbours beyond it, a
// hub hundreds), and SPF takes a link only where each end names the other. Ids are
// reference-counted (one reference per record, and per holder outside) and reused once free,
// lowest first, each first taken out of the links that named it (unlinkId), so the tables stay
// as large as the nodes held now, not as every address named. Numbering every named address
// took most of a node's ids (on a Holme–Kim mesh of 1,500, 183 a node for 33 records) and some
// 11 KiB of its memory.
//
// A record holds the parts of its origin's highest sequence and, until that sequence is whole, a
// stand-in for each part not come yet: the newest part of that number held before. The links of
// a node are the union of those, so a hub's announcement of ten parts that comes part by part (or
// whose renewals come in two frames) never takes its other links away meanwhile. Signatures are
// the router's business: this module stores what it is given.
import { fcAddressBytes } from '../keys/address.js';
import { bytesKey } from '../util/bytes.js';
import { ANNOUNCEMENT_LINK_COUNT_AT, ANNOUNCEMENT_LINK_SIZE, ANNOUNCEMENT_LINKS_AT, type AnnouncedPrefix, type Announcement, type Link } from './announcement.js';
import { IdTable } from './id-table.js';
import type { Route } from './spf.js';

const KEY_SIZE = 32;
const ADDRESS_SIZE = 16;
/** A record's identity: its key and its address. */
const IDENTITY_SIZE = KEY_SIZE + ADDRESS_SIZE;
/** Numbers per link in a links array: neighbour id, interface index, cost. */
export const LINK_STRIDE = 3;
/** A node's links, LINK_STRIDE small integers each, in a plain array: V8 holds them unboxed, and
 *  at a few links a part, a typed array's header and buffer (some 180 bytes) outweighed its
 *  four bytes a number. */
export type Links = number[];
const NO_LINKS: Links = Object.freeze([]) as unknown as Links;
const NO_PREFIXES: readonly AnnouncedPrefix[] = [];
/** Shared by every record without parts: written only through withPart, which copies it. */
const NO_PARTS = Object.freeze([]) as unknown as (Part | undefined)[];

/** One held announcement (one part of an origination): its bytes to re-send, its links. */
export interface Part {
  parts: number;
  mtu: number;
  /** Its bytes, one latin1 char each (partBytes gives them back): a string is its chars and 16
   *  bytes, where a byte array took an array buffer and a view, some 180 bytes before the first
   *  byte, at every record held. */
  signed: string;
  /** LINK_STRIDE numbers per link whose address had an id when the part was stored, or was
   *  named back since (Lsdb.resolveNaming), in the order announced; `signed` holds every link
   *  (announcedLinks, linkIndexAt). */
  links: Links;
  /** The routed prefixes claimed in this part (almost always none). */
  prefixes: readonly AnnouncedPrefix[];
}

/** What the database knows of one origin. */
export class NodeRecord {
  /** Highest sequence held; every held part carries it. */
  sequence = -1;
  /** The origin's TUN MTU, as announced (the smallest of its held parts, should they disagree). */
  mtu = 0;
  parts: (Part | undefined)[] = NO_PARTS;
  /** While `parts` is not whole: for a part number it lacks, the newest part of that number held
   *  before (of an older sequence), which stands in for it. */
  standIns: (Part | undefined)[] | undefined = undefined;
  /** When a part of it was last stored (monotonic ms), and when it will be forgotten. */
  receivedAt = 0;
  /** The router's budget of new sequences from this origin (a token bucket: tokens, and when
   *  they were last counted, monotonic ms). */
  sequenceTokens = Infinity;
  tokensAt = 0;
  expiresAt = Infinity;
  /** Its links in the graph (its parts' `links`), their union, one per neighbour (the cheapest
   *  if named twice), never itself: LINK_STRIDE int32s each (neighbour id, the origin's interface
   *  index for it, cost).
   *  One flat array rather than one per field: the per-object overhead counts, at every record. */
  links: Links = NO_LINKS;
  /** The routed prefixes it claims: those of its held parts below the part count. */
  prefixes: readonly AnnouncedPrefix[] = NO_PREFIXES;
  /** The router's current route to this node (kept here so SPF can compare runs without a map). */
  route: Route | undefined = undefined;
  /** The SPF run that last reached this node. */
  spfRun = 0;
  /** Since when (monotonic ms) the node has been beyond the map's radius or unreachable; -1
   *  while it is within (router.ts: scope). */
  outOfScopeSince = -1;

  constructor(
    /** Its id in the database (renumbered by Lsdb.compactIds). */
    public id: number,
    /** Its key's 32 bytes then its address's 16, one latin1 char each (identityChars): a string
     *  is its chars and 16 bytes, where the two byte arrays took some 460 at every record. */
    readonly identity: string,
  ) {}

  /** Its key, in an array of its own made at each call (the caller may keep it). */
  get publicKey(): Uint8Array {
    return identityKey(this.identity);
  }

  /** Its fc00::/8 address, in an array of its own made at each call. */
  get address(): Uint8Array {
    return identityAddress(this.identity);
  }

  /** Part `part` held from before `sequence`: of the sequence held, if older, or, while
   *  `sequence` is the one coming part by part, its stand-in. What a renewal to `sequence`
   *  renews. */
  partBefore(part: number, sequence: number): Part | undefined {
    if (this.sequence < sequence) return this.parts[part] ?? this.standIns?.[part];
    return this.sequence === sequence ? this.standIns?.[part] : undefined;
  }
}

/** A key and its address (two BLAKE2s of it), arrays nobody modifies. */
export interface Identity {
  publicKey: Uint8Array;
  address: Uint8Array;
}

/** A key and its address as one latin1 string: a record's identity. Made from one array: two
 *  strings joined would be a rope of three. */
function identityChars(publicKey: Uint8Array, address: Uint8Array): string {
  const bytes = new Uint8Array(IDENTITY_SIZE);
  bytes.set(publicKey.subarray(0, KEY_SIZE));
  bytes.set(address.subarray(0, IDENTITY_SIZE - KEY_SIZE), KEY_SIZE);
  return bytesKey(bytes);
}

/** The key of a record's identity, in an array of its own. */
export function identityKey(identity: string): Uint8Array {
  return charsBytes(identity, 0, KEY_SIZE);
}

/** The address of a record's identity, in an array of its own. */
export function identityAddress(identity: string): Uint8Array {
  return charsBytes(identity, KEY_SIZE, IDENTITY_SIZE);
}

/** Chars [from, to) of a latin1 string, as bytes in an array of their own (not a view of
 *  Buffer's shared pool, which an array kept would keep whole). */
function charsBytes(chars: string, from: number, to: number): Uint8Array {
  // A loop, not Buffer's write (partBytes): an array of 64 bytes or fewer lives on the heap until
  // its `.buffer` is asked for, which moves it out to a buffer of its own.
  const bytes = new Uint8Array(to - from);
  for (let i = from; i < to; i++) bytes[i - from] = chars.charCodeAt(i);
  return bytes;
}

/** Whether the first `length` chars of a latin1 string are the bytes at buf[off ..]. */
export function charsMatch(chars: string, buf: Uint8Array, off: number, length = chars.length): boolean {
  if (buf.length < off + length) return false;
  for (let i = 0; i < length; i++) if (chars.charCodeAt(i) !== buf[off + i]) return false;
  return true;
}

/** Whether the identity's key is the 32 bytes at buf[off]. */
function keyIs(identity: string, buf: Uint8Array, off: number): boolean {
  return charsMatch(identity, buf, off, KEY_SIZE);
}

/** Orders two records by address, as compareBytes would their address arrays. */
export function compareAddresses(a: NodeRecord, b: NodeRecord): number {
  for (let i = KEY_SIZE; i < IDENTITY_SIZE; i++) {
    const d = a.identity.charCodeAt(i) - b.identity.charCodeAt(i);
    if (d !== 0) return d;
  }
  return 0;
}

/** Identities by the key's bytes as a latin1 string: the simulator's, shared by its thousands of
 *  nodes, which all learn the same keys (the addresses' hashes for the full map's 2025 nodes took
 *  minutes). Each record still holds an identity of its own, as a daemon's do. A daemon has no
 *  memo: it works an address out when it meets a key it holds no record of. */
export type IdentityMemo = Map<string, Identity>;

export interface LsdbOptions {
  identityMemo?: IdentityMemo;
}

export class Lsdb {
  /** Record per id (undefined for an id held only from outside, ours or a live link's, or free). */
  readonly records: (NodeRecord | undefined)[] = [];
  /** The records alone: the router walks them often, and at a hub most ids are its live links'
   *  neighbours, held from outside. */
  private readonly heldRecords = new Set<NodeRecord>();
  private readonly ids = new IdTable();
  private readonly byKey = new KeyTable();
  /** Records stored without their links in the graph (store's `indexed`: a router's own). */
  private readonly unindexed = new Set<NodeRecord>();
  private readonly identityMemo: IdentityMemo | undefined;
  private nextExpiry = Infinity;
  /** Changes whenever some origin's claimed prefixes may have changed: who holds the prefix table
   *  compares it rather than being called. */
  prefixEpoch = 0;
  private partCount = 0;
  private byteCount = 0;
  private linkCount = 0;

  constructor(options: LsdbOptions = {}) {
    this.identityMemo = options.identityMemo;
  }

  /** Every record held (a record removed while this is walked is not visited after). */
  get held(): ReadonlySet<NodeRecord> {
    return this.heldRecords;
  }

  /** Every id in use is below this. */
  get capacity(): number {
    return this.ids.capacity;
  }

  /** The id of an address, allocated if new. Ids without references are freed by unref(). Links
   *  held already that name it stay in their bytes alone until a record that names them back
   *  is stored (a neighbour's, for a router's live link: SPF takes no link before). */
  intern(address: Uint8Array): number {
    const id = this.ids.intern(address, 0);
    // Kept dense: V8 turns an array with a gap of a thousand into a dictionary, and SPF reads it.
    while (this.records.length <= id) this.records.push(undefined);
    return id;
  }

  /** The address of an id in use, in an array of its own. */
  addressOfId(id: number): Uint8Array {
    return this.ids.address(id);
  }

  /** The id of an address already known, without allocating. */
  idOf(buf: Uint8Array, off: number): number | undefined {
    return this.ids.idOf(buf, off);
  }

  ref(id: number): void {
    this.ids.ref(id);
  }

  unref(id: number): void {
    if (!this.ids.unref(id)) return;
    this.records[id] = undefined;
    this.unlinkId(id);
    // The records past the id range go with it (the array's storage with them, once far fewer).
    if (this.records.length > 2 * this.ids.capacity + 64) this.records.length = this.ids.capacity;
  }

  /**
   * Once the id range has grown past twice the ids in use (a cold start names many addresses
   * that go again, and the ids that stay are spread over the range), numbers them anew, in their
   * order, and returns each old id's new one for whoever holds ids outside (the router), else
   * undefined. Every array indexed by id, SPF's, is as long as the range.
   */
  compactIds(): Int32Array | undefined {
    if (!this.ids.sparse) return undefined;
    const renumbered = this.ids.renumber();
    const done = new Set<Links>();
    const remap = (links: Links) => {
      if (links.length === 0 || done.has(links)) return;
      done.add(links);
      for (let i = 0; i < links.length; i += LINK_STRIDE) links[i] = renumbered[links[i]!]!;
    };
    this.records.length = this.ids.capacity;
    this.records.fill(undefined);
    for (const record of this.heldRecords) {
      record.id = renumbered[record.id]!;
      this.records[record.id] = record;
      remap(record.links);
      for (const part of record.parts) if (part) remap(part.links);
      for (const part of record.standIns ?? []) if (part) remap(part.links);
    }
    return renumbered;
  }

  /** Whether id a's address is below id b's, byte by byte (SPF's tie-break). */
  lowerAddress(a: number, b: number): boolean {
    return this.ids.lower(a, b);
  }

  /** The fc00::/8 address of a public key (an array that must not be modified). */
  addressOf(publicKey: Uint8Array): Uint8Array {
    const record = this.byKey.lookup(publicKey, 0);
    if (record) return record.address;
    return this.identityMemo ? this.identityOf(publicKey).address : fcAddressBytes(publicKey.subarray(0, 32));
  }

  /** The 32-byte key at the start of `publicKey`, copied, with its address: the memo's, if any. */
  private identityOf(publicKey: Uint8Array): Identity {
    const memo = this.identityMemo;
    const k = memo && bytesKey(publicKey.subarray(0, 32));
    let identity = k === undefined ? undefined : memo!.get(k);
    if (!identity) {
      const key = publicKey.slice(0, 32);
      identity = { publicKey: key, address: fcAddressBytes(key) };
      if (k !== undefined) memo!.set(k, identity);
    }
    return identity;
  }

  /** The record of the origin whose 32-byte key is at buf[off], if held. */
  recordOf(buf: Uint8Array, off: number): NodeRecord | undefined {
    return this.byKey.lookup(buf, off);
  }

  /** The record of the node at the 16-byte address at buf[off], if held. */
  recordAt(buf: Uint8Array, off: number): NodeRecord | undefined {
    const id = this.ids.idOf(buf, off);
    return id === undefined ? undefined : this.records[id];
  }

  /** True if an announcement of (origin, sequence, part) adds nothing to what is held: its
   *  sequence is older than the origin's newest, or that very part of the newest is held. */
  isStale(origin: Uint8Array, originOff: number, sequence: number, part: number): boolean {
    const record = this.byKey.lookup(origin, originOff);
    if (!record) return false;
    return sequence < record.sequence || (sequence === record.sequence && record.parts[part] !== undefined);
  }

  /**
   * Stores an announcement the caller checked is not stale (and verified), its bytes copied (the
   * part's `signed`, what to send on). Returns its record.
   * `indexed` false keeps the bytes alone, its links not in the graph: a router's own, whose
   * live links are SPF's source and whose record no search reaches (at a hub of hundreds of
   * links, what the graph would hold of it was the largest part of its map but the bytes).
   */
  store(a: Announcement, now: number, expiresAt: number, indexed = true): NodeRecord {
    let record = this.byKey.lookup(a.origin, 0);
    if (!record) {
      const identity = this.identityOf(a.origin);
      const id = this.intern(identity.address);
      this.ref(id);
      // Its own string even where the memo is shared: the simulator weighs a daemon's records.
      record = new NodeRecord(id, identityChars(identity.publicKey, identity.address));
      this.records[id] = record;
      this.heldRecords.add(record);
      this.byKey.set(identity.publicKey, record);
    }
    const links = indexed ? this.linksWithIds(a.links) : NO_LINKS;
    const signed = bytesKey(a.bytes);
    const part: Part = { parts: a.parts, mtu: a.mtu, signed, links, prefixes: a.prefixes.length > 0 ? prefixesCopied(a.prefixes) : NO_PREFIXES };
    if (a.sequence > record.sequence && a.parts === 1) {
      this.dropParts(record); // whole as it comes: nothing need stand in
      record.sequence = a.sequence;
    } else if (a.sequence > record.sequence) {
      // The parts held become the stand-ins for the new sequence's, over older stand-ins.
      let standIns = record.standIns ?? NO_PARTS;
      record.parts.forEach((held, p) => {
        if (!held) return;
        const older = standIns[p];
        if (older) this.dropAll([older]);
        standIns = withPart(standIns, p, held);
      });
      record.standIns = standIns;
      record.parts = NO_PARTS;
      record.sequence = a.sequence;
    } else if (a.sequence < record.sequence) {
      throw new Error('Lsdb.store: announcement older than the one held');
    } else {
      const old = record.parts[a.part];
      if (old) {
        this.partCount--;
        this.byteCount -= old.signed.length;
      }
    }
    record.parts = withPart(record.parts, a.part, part);
    this.partCount++;
    this.byteCount += signed.length;
    if (record.standIns) {
      // The part that stood in goes, so nothing is held or counted twice.
      const stoodIn = record.standIns[a.part];
      if (stoodIn) {
        this.dropAll([stoodIn]);
        record.standIns[a.part] = undefined;
      }
      if (isWhole(record.parts)) this.dropStandIns(record);
    }
    this.rebuildLinks(record);
    if (indexed) {
      this.unindexed.delete(record);
      this.resolveNaming(record, a.links);
    } else this.unindexed.add(record);
    record.receivedAt = now;
    record.expiresAt = expiresAt;
    if (expiresAt < this.nextExpiry) this.nextExpiry = expiresAt;
    return record;
  }

  /** When expire() next forgets a record, at the soonest (Infinity: none held). */
  get expiresNext(): number {
    return this.nextExpiry;
  }

  /** Forgets every record whose expiry time has come; returns how many. */
  expire(now: number): number {
    if (now < this.nextExpiry) return 0;
    let removed = 0;
    let next = Infinity;
    for (const record of this.heldRecords) {
      if (record.expiresAt <= now) {
        this.remove(record);
        removed++;
      } else if (record.expiresAt < next) next = record.expiresAt;
    }
    this.nextExpiry = next;
    return removed;
  }

  remove(record: NodeRecord): void {
    if (record.prefixes.length > 0) this.prefixEpoch++;
    this.dropParts(record);
    this.linkCount -= record.links.length / LINK_STRIDE;
    record.links = NO_LINKS;
    this.byKey.delete(record);
    this.records[record.id] = undefined;
    this.heldRecords.delete(record);
    this.unindexed.delete(record);
    this.unref(record.id);
  }

  /** The links announced whose addresses have ids, LINK_STRIDE numbers each, in their order. */
  private linksWithIds(announced: readonly Link[]): Links {
    let count = 0;
    for (const link of announced) if (this.ids.idOf(link.address, 0) !== undefined) count++;
    if (count === 0) return NO_LINKS;
    const links: Links = new Array<number>(count * LINK_STRIDE);
    let n = 0;
    for (const link of announced) {
      const id = this.ids.idOf(link.address, 0);
      if (id === undefined) continue;
      links[n++] = id;
      links[n++] = link.index;
      links[n++] = link.cost;
    }
    return links;
  }

  /**
   * `record` was stored, naming `announced`: each record it names whose parts name it in their
   * bytes alone (stored before it had an id) reads those parts' links anew, in their order. Only
   * records it names back: SPF takes no other link (spf.ts), and the map's other questions read
   * the bytes (namedIds, linkTarget). A record's links so hold every link between two nodes held
   * that name each other, whichever came first. Costs the named records' links where some are
   * held as bytes alone: a hub's hundreds, for each neighbour of it that comes.
   */
  private resolveNaming(record: NodeRecord, announced: readonly Link[]): void {
    for (const link of announced) {
      const id = this.ids.idOf(link.address, 0);
      const holder = id === undefined ? undefined : this.records[id];
      if (!holder || holder === record || this.unindexed.has(holder)) continue;
      this.relinkParts(holder, (part) =>
        part.links.length / LINK_STRIDE >= announcedLinks(part) || namesId(part.links, record.id) || !namesAddress(part, record) ? null : this.partLinksWithIds(part),
      );
    }
  }

  /** Gives each part `record` holds the links `relink` returns for it (null: as they are), then
   *  rebuilds the record's links if any changed. Two loops, not heldParts, which allocates: this
   *  runs at every store, on the flood path, and for every record at every id freed. */
  private relinkParts(record: NodeRecord, relink: (part: Part) => Links | null): void {
    let changed = false;
    for (let standing = 0; standing < 2; standing++) {
      for (const part of (standing ? record.standIns : record.parts) ?? NO_PARTS) {
        if (!part) continue;
        const links = relink(part);
        if (!links) continue;
        part.links = links;
        changed = true;
      }
    }
    if (changed) this.rebuildLinks(record, true);
  }

  /** A part's links whose addresses have ids, read anew from its bytes, in their order. */
  private partLinksWithIds(part: Part): Links {
    const count = announcedLinks(part);
    const ids: number[] = [];
    for (let k = 0; k < count; k++) {
      const id = this.ids.idOf(addressAt(part, k), 0);
      if (id !== undefined) ids.push(id, k);
    }
    if (ids.length === 0) return NO_LINKS;
    // Exactly as long as it holds: an array pushed to keeps room to grow, at every part.
    const links: Links = new Array<number>((ids.length / 2) * LINK_STRIDE);
    let n = 0;
    for (let i = 0; i < ids.length; i += 2) {
      links[n++] = ids[i]!;
      links[n++] = linkIndexAt(part, ids[i + 1]!);
      links[n++] = linkCostAt(part, ids[i + 1]!);
    }
    return links;
  }

  /** An id freed: the links that named it are held in their parts' bytes alone again. */
  private unlinkId(id: number): void {
    const unlink = (part: Part) => (namesId(part.links, id) ? withoutId(part.links, id) : null);
    for (const record of this.heldRecords) this.relinkParts(record, unlink);
  }

  /** The id of each address the record's held parts name that has one (the map holds it, or
   *  it is ours or a live link's), repeats and all. */
  namedIds(record: NodeRecord, visit: (id: number) => void): void {
    for (const part of heldParts(record)) {
      const count = announcedLinks(part);
      for (let k = 0; k < count; k++) {
        const id = this.ids.idOf(addressAt(part, k), 0);
        if (id !== undefined) visit(id);
      }
    }
  }

  /** How many neighbours the record's origin announces, as its held parts below their part
   *  count (or those standing in for parts not come yet) say: each once, itself not. */
  announcedDegree(record: NodeRecord): number {
    const count = Math.min(Math.max(record.parts.length, record.standIns?.length ?? 0), partCount(record.parts));
    const self = record.identity.slice(KEY_SIZE);
    const named = new Set<string>();
    for (let p = 0; p < count; p++) {
      const part = partAt(record, p);
      if (!part) continue;
      const links = announcedLinks(part);
      for (let k = 0; k < links; k++) {
        const at = ANNOUNCEMENT_LINKS_AT + k * ANNOUNCEMENT_LINK_SIZE;
        const address = part.signed.slice(at, at + ADDRESS_SIZE);
        if (address !== self) named.add(address);
      }
    }
    return named.size;
  }

  /** The record of the node that `record`'s origin reaches by its interface index `index`, as
   *  any held part says (a node may have two links to one neighbour), if held. */
  linkTarget(record: NodeRecord, index: number): NodeRecord | undefined {
    for (const part of heldParts(record)) {
      const count = announcedLinks(part);
      for (let k = 0; k < count; k++) if (linkIndexAt(part, k) === index) return this.recordAt(addressAt(part, k), 0);
    }
    return undefined;
  }

  /** Origins held. */
  get origins(): number {
    return this.heldRecords.size;
  }

  /** Bytes of announcements held. */
  get bytes(): number {
    return this.byteCount;
  }

  /** Records, links in the graph (the records' `links`), announcements and their bytes held; the addresses numbered (ids in use) and the id range (every array indexed by id
   *  is about that long). */
  stats(): { nodes: number; links: number; announcements: number; bytes: number; ids: number; idRange: number } {
    return { nodes: this.heldRecords.size, links: this.linkCount, announcements: this.partCount, bytes: this.byteCount, ids: this.ids.size, idRange: this.ids.capacity };
  }

  private dropParts(record: NodeRecord): void {
    this.dropAll(record.parts);
    record.parts = NO_PARTS;
    this.dropStandIns(record);
  }

  private dropStandIns(record: NodeRecord): void {
    if (!record.standIns) return;
    this.dropAll(record.standIns);
    record.standIns = undefined;
  }

  private dropAll(parts: readonly (Part | undefined)[]): void {
    for (const part of parts) {
      if (!part) continue;
      this.partCount--;
      this.byteCount -= part.signed.length;
    }
  }

  // The record's prefixes become those of its parts below the part count.
  private rebuildPrefixes(record: NodeRecord, count: number): void {
    let prefixes = NO_PREFIXES;
    for (let p = 0; p < count; p++) {
      const part = partAt(record, p);
      if (part && part.prefixes.length > 0) prefixes = prefixes.length === 0 ? part.prefixes : [...prefixes, ...part.prefixes];
    }
    if (prefixes.length > 0 || record.prefixes.length > 0) this.prefixEpoch++;
    record.prefixes = prefixes;
  }

  // The record's links become the union of its parts below the part count they announce (the
  // smallest, should they disagree), one entry per neighbour: the cheapest, then the lowest index.
  private rebuildLinks(record: NodeRecord, linksOnly = false): void {
    let count = Infinity;
    let mtu = Infinity;
    for (const part of record.parts) {
      if (!part) continue;
      if (part.parts < count) count = part.parts;
      if (part.mtu < mtu) mtu = part.mtu;
    }
    record.mtu = mtu === Infinity ? 0 : mtu;
    // A link joining or leaving the graph changes no prefix: the prefix table is not asked to
    // judge them again (prefixEpoch).
    if (!linksOnly) this.rebuildPrefixes(record, count);
    const before = record.links.length / LINK_STRIDE;
    const only = record.parts.length === 1 && !record.standIns ? record.parts[0]! : undefined;
    if (only && isClean(only.links, record.id)) {
      // One part naming each neighbour once (most nodes): its array serves as the union.
      record.links = only.links;
    } else {
      let total = 0;
      for (let p = 0; p < count; p++) total += partAt(record, p)?.links.length ?? 0;
      const links: Links = new Array<number>(total);
      // Where each neighbour already sits in the union; only needed past a few dozen links.
      const seen = total > 32 * LINK_STRIDE ? new Map<number, number>() : undefined;
      let n = 0;
      for (let p = 0; p < count; p++) {
        const part = partAt(record, p);
        if (!part) continue;
        const from = part.links;
        for (let i = 0; i < from.length; i += LINK_STRIDE) {
          const id = from[i]!;
          if (id === record.id) continue;
          let at = -1;
          if (seen) at = seen.get(id) ?? -1;
          else for (let j = 0; j < n; j += LINK_STRIDE) if (links[j] === id) at = j;
          const x = from[i + 1]!;
          const c = from[i + 2]!;
          if (at < 0) {
            seen?.set(id, n);
            links[n] = id;
            links[n + 1] = x;
            links[n + 2] = c;
            n += LINK_STRIDE;
          } else if (c < links[at + 2]! || (c === links[at + 2]! && x < links[at + 1]!)) {
            links[at + 1] = x;
            links[at + 2] = c;
          }
        }
      }
      record.links = n === total ? links : links.slice(0, n);
    }
    this.linkCount += record.links.length / LINK_STRIDE - before;
  }
}

/** `parts` with `part` at `p`: in place if long enough, else in a copy exactly p + 1 long (a
 *  record holds one part of most origins, and an empty array written at 0 reserves 17 places). */
function withPart(parts: (Part | undefined)[], p: number, part: Part): (Part | undefined)[] {
  if (p < parts.length && parts !== NO_PARTS) {
    parts[p] = part;
    return parts;
  }
  const grown = new Array<Part | undefined>(Math.max(p + 1, parts.length));
  for (let i = 0; i < parts.length; i++) grown[i] = parts[i];
  grown[p] = part;
  return grown;
}

/** How many links a part announces: its bytes hold each (its `links` those with ids). */
export function announcedLinks(part: Part): number {
  return charsUint16(part.signed, ANNOUNCEMENT_LINK_COUNT_AT);
}

/** The interface index of a part's link `k` (below announcedLinks), read from its bytes. */
export function linkIndexAt(part: Part, k: number): number {
  return charsUint16(part.signed, ANNOUNCEMENT_LINKS_AT + k * ANNOUNCEMENT_LINK_SIZE + ADDRESS_SIZE);
}

/** The cost of a part's link `k`, read from its bytes. */
function linkCostAt(part: Part, k: number): number {
  return charsUint16(part.signed, ANNOUNCEMENT_LINKS_AT + k * ANNOUNCEMENT_LINK_SIZE + ADDRESS_SIZE + 2);
}

/** The big-endian 16-bit number at chars[at], a byte a char. */
function charsUint16(chars: string, at: number): number {
  return (chars.charCodeAt(at) << 8) | chars.charCodeAt(at + 1);
}

/** One array reused for an address read from a part's bytes, to look it up (not kept). */
const addressScratch = new Uint8Array(ADDRESS_SIZE);

/** The address a part's link `k` names, in a scratch array valid until the next call. */
function addressAt(part: Part, k: number): Uint8Array {
  const at = ANNOUNCEMENT_LINKS_AT + k * ANNOUNCEMENT_LINK_SIZE;
  for (let i = 0; i < ADDRESS_SIZE; i++) addressScratch[i] = part.signed.charCodeAt(at + i);
  return addressScratch;
}

/** Whether one of a part's links names the address of `record`. */
function namesAddress(part: Part, record: NodeRecord): boolean {
  const address = record.identity.slice(KEY_SIZE);
  const count = announcedLinks(part);
  for (let k = 0; k < count; k++) if (part.signed.startsWith(address, ANNOUNCEMENT_LINKS_AT + k * ANNOUNCEMENT_LINK_SIZE)) return true;
  return false;
}

/** Whether `links` names `id`. */
function namesId(links: Links, id: number): boolean {
  for (let i = 0; i < links.length; i += LINK_STRIDE) if (links[i] === id) return true;
  return false;
}

/** `links` without those naming `id`, in a new array (a part's may be its record's union too). */
function withoutId(links: Links, id: number): Links {
  let naming = 0;
  for (let i = 0; i < links.length; i += LINK_STRIDE) if (links[i] === id) naming++;
  if (naming * LINK_STRIDE === links.length) return NO_LINKS;
  const kept: Links = new Array<number>(links.length - naming * LINK_STRIDE);
  let n = 0;
  for (let i = 0; i < links.length; i += LINK_STRIDE) {
    if (links[i] === id) continue;
    kept[n++] = links[i]!;
    kept[n++] = links[i + 1]!;
    kept[n++] = links[i + 2]!;
  }
  return kept;
}

/** The parts a record holds: of its newest sequence, then those standing in. */
function* heldParts(record: NodeRecord): Generator<Part> {
  for (const part of record.parts) if (part) yield part;
  if (record.standIns) for (const part of record.standIns) if (part) yield part;
}

/** The bytes of a part, in an array of their own (not a slice of a shared pool, which a queue of
 *  resends would keep whole). */
export function partBytes(part: Part): Uint8Array {
  const bytes = new Uint8Array(part.signed.length);
  Buffer.from(bytes.buffer).write(part.signed, 'latin1');
  return bytes;
}

/** The prefixes with each delegation, a view of the announcement's bytes as decoded, copied, so
 *  the decoded bytes (the frame they came in) are not kept. A node claims a prefix or two. */
function prefixesCopied(prefixes: readonly AnnouncedPrefix[]): readonly AnnouncedPrefix[] {
  return prefixes.map((p) => (p.delegation ? { ...p, delegation: p.delegation.slice() } : p));
}

/** Part `p` of the record's newest sequence, or, while that has not come, its stand-in. */
function partAt(record: NodeRecord, p: number): Part | undefined {
  return record.parts[p] ?? record.standIns?.[p];
}

/** How many parts the members of `parts` announce (the fewest, should they disagree; Infinity
 *  for none). */
function partCount(parts: readonly (Part | undefined)[]): number {
  let count = Infinity;
  for (const part of parts) if (part && part.parts < count) count = part.parts;
  return count;
}

/** Whether `parts` holds every part its members count (the fewest, should they disagree). */
function isWhole(parts: readonly (Part | undefined)[]): boolean {
  const count = partCount(parts);
  if (count === Infinity) return false;
  for (let p = 0; p < count; p++) if (!parts[p]) return false;
  return true;
}

/** True if `links` never names `self` and names no neighbour twice. */
function isClean(links: Links, self: number): boolean {
  if (links.length > 32 * LINK_STRIDE) {
    const ids = new Set<number>();
    for (let i = 0; i < links.length; i += LINK_STRIDE) ids.add(links[i]!);
    return ids.size === links.length / LINK_STRIDE && !ids.has(self);
  }
  for (let i = 0; i < links.length; i += LINK_STRIDE) {
    const id = links[i]!;
    if (id === self) return false;
    for (let j = 0; j < i; j += LINK_STRIDE) if (links[j] === id) return false;
  }
  return true;
}

// Records by 32-byte public key, looked up in place in a received frame: keyed by 30 bits of the
// key (X25519 public keys are uniformly spread, and making colliding ones costs an attacker 2^30
// key generations each), then compared whole. No string is built per lookup, which matters on
// the flood path where most announcements received are duplicates.
class KeyTable {
  // A bucket is one record (almost always) or an array of colliding ones.
  private readonly buckets = new Map<number, NodeRecord | NodeRecord[]>();

  lookup(buf: Uint8Array, off: number): NodeRecord | undefined {
    const bucket = this.buckets.get(keyHash(buf, off));
    if (bucket === undefined) return undefined;
    if (!Array.isArray(bucket)) return keyIs(bucket.identity, buf, off) ? bucket : undefined;
    for (let i = 0; i < bucket.length; i++) {
      const record = bucket[i]!;
      if (keyIs(record.identity, buf, off)) return record;
    }
    return undefined;
  }

  set(key: Uint8Array, record: NodeRecord): void {
    const h = keyHash(key, 0);
    const bucket = this.buckets.get(h);
    if (bucket === undefined) this.buckets.set(h, record);
    else if (Array.isArray(bucket)) bucket.push(record);
    else this.buckets.set(h, [bucket, record]);
  }

  delete(record: NodeRecord): void {
    const h = identityKeyHash(record.identity);
    const bucket = this.buckets.get(h);
    if (bucket === undefined) return;
    if (!Array.isArray(bucket)) {
      if (bucket === record) this.buckets.delete(h);
      return;
    }
    const i = bucket.indexOf(record);
    if (i >= 0) bucket.splice(i, 1);
    if (bucket.length === 1) this.buckets.set(h, bucket[0]!);
  }
}

function keyHash(buf: Uint8Array, off: number): number {
  return mixKeyBytes(buf[off]!, buf[off + 1]!, buf[off + 2]!, buf[off + 3]!);
}

/** keyHash of a record's key, read from its identity's chars. */
function identityKeyHash(identity: string): number {
  return mixKeyBytes(identity.charCodeAt(0), identity.charCodeAt(1), identity.charCodeAt(2), identity.charCodeAt(3));
}

/** 30 bits of a key's first four bytes. */
function mixKeyBytes(b0: number, b1: number, b2: number, b3: number): number {
  return ((b0 << 22) ^ (b1 << 14) ^ (b2 << 7) ^ b3) & 0x3fffffff;
}

