// The .rovy DNS responder (src/names/dns.ts): queries built by hand, responses read back with a
// small parser that follows compression pointers, and garbage that must be dropped, not answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../../bench/sim/graph.js';
import { DNS_TTL_SECONDS, answerDnsQuery, type RovyZone } from '../../src/names/dns.js';

const ALICE = Uint8Array.of(0xfc, 0x62, 0x36, 0xbf, 0xee, 0x9c, 0xa7, 0x84, 0x92, 0xb5, 0xc3, 0xc1, 0xb3, 0xc5, 0x26, 0x9a);
const PEER = Uint8Array.of(0xfc, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff);
const PEER_ID = 'bafzqaiaaedalucmjbmbthyhnq2hvakovevnqgjrmx3pmsrljk5gvkmm6xmy';
const UNKNOWN = Uint8Array.of(0xfc, ...new Array<number>(15).fill(0xee));

/** A zone with a petname and a bare peer ID; it records what it was asked. */
function stubZone(): RovyZone & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    addressOf(label) {
      asked.push(label);
      return label === 'alice' ? ALICE : label === PEER_ID ? PEER : null;
    },
    labelOf(address) {
      const hex = Buffer.from(address).toString('hex');
      asked.push(hex);
      if (hex === Buffer.from(ALICE).toString('hex')) return 'alice';
      if (hex === Buffer.from(PEER).toString('hex')) return PEER_ID;
      return null;
    },
  };
}

const T = { A: 1, NS: 2, SOA: 6, PTR: 12, AAAA: 28, OPT: 41, ANY: 255 };

interface QueryOptions {
  id?: number;
  opcode?: number;
  rd?: boolean;
  qclass?: number;
  /** An OPT record with this EDNS version (and a COOKIE option, which must not be echoed). */
  edns?: number;
}

function nameBytes(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.').filter((l) => l !== '')) out.push(label.length, ...Buffer.from(label, 'latin1'));
  out.push(0);
  return out;
}

function query(name: string, qtype: number, o: QueryOptions = {}): Uint8Array {
  const id = o.id ?? 0xbeef;
  const bytes = [id >> 8, id & 0xff, ((o.opcode ?? 0) << 3) | (o.rd === false ? 0 : 1), 0, 0, 1, 0, 0, 0, 0, 0, o.edns === undefined ? 0 : 1];
  bytes.push(...nameBytes(name), qtype >> 8, qtype & 0xff, 0, o.qclass ?? 1);
  if (o.edns !== undefined) bytes.push(...opt(o.edns));
  return Uint8Array.from(bytes);
}

/** An OPT record: payload size 4096, the given version, DO set, an 8-byte client COOKIE. */
function opt(version: number, name: number[] = [0]): number[] {
  return [...name, 0, T.OPT, 0x10, 0x00, 0, version, 0x80, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
}

/** Reverse name of `address`, as `dig -x` asks it, with upper-case hex if asked. */
function reverseName(address: Uint8Array, upper = false): string {
  const hex = Buffer.from(address).toString('hex');
  const nibbles = [...hex].reverse().join('.');
  return `${upper ? nibbles.toUpperCase() : nibbles}.ip6.arpa`;
}

interface Record {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Uint8Array;
  /** Offset of the RDATA in the message, for names inside it. */
  at: number;
}

interface Response {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  question: Uint8Array;
  answers: Record[];
  authority: Record[];
  additional: Record[];
  msg: Uint8Array;
}

function readName(msg: Uint8Array, p: number): { name: string; end: number } {
  const labels: string[] = [];
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    const len = msg[p]!;
    if (len === 0) return { name: labels.join('.'), end: end < 0 ? p + 1 : end };
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = p + 2;
      p = ((len & 0x3f) << 8) | msg[p + 1]!;
      continue;
    }
    labels.push(Buffer.from(msg.subarray(p + 1, p + 1 + len)).toString('latin1'));
    p += 1 + len;
  }
  throw new Error('pointer loop');
}

function parse(msg: Uint8Array): Response {
  const u16 = (p: number): number => (msg[p]! << 8) | msg[p + 1]!;
  assert.ok(msg.length >= 12, 'response shorter than a header');
  assert.equal(u16(4), 1, 'one question');
  let p = readName(msg, 12).end + 4;
  const question = msg.subarray(12, p);
  const records = (count: number): Record[] => {
    const out: Record[] = [];
    for (let i = 0; i < count; i++) {
      const { name, end } = readName(msg, p);
      const len = u16(end + 8);
      const at = end + 10;
      out.push({ name, type: u16(end), class: u16(end + 2), ttl: u16(end + 4) * 65536 + u16(end + 6), rdata: msg.subarray(at, at + len), at });
      p = at + len;
    }
    return out;
  };
  const answers = records(u16(6));
  const authority = records(u16(8));
  const additional = records(u16(10));
  assert.equal(p, msg.length, 'no bytes after the counted records');
  return {
    id: u16(0),
    qr: (msg[2]! & 0x80) !== 0,
    opcode: (msg[2]! >> 3) & 0xf,
    aa: (msg[2]! & 0x04) !== 0,
    tc: (msg[2]! & 0x02) !== 0,
    rd: (msg[2]! & 0x01) !== 0,
    ra: (msg[3]! & 0x80) !== 0,
    rcode: msg[3]! & 0xf,
    question,
    answers,
    authority,
    additional,
    msg,
  };
}

function ask(q: Uint8Array, zone: RovyZone = stubZone()): { r: Response; outcome: string } {
  const out = new Uint8Array(512);
  const { length, outcome } = answerDnsQuery(q, zone, out);
  assert.ok(length > 0, `answered (${outcome})`);
  return { r: parse(out.subarray(0, length)), outcome };
}

/** Checks `rec` is the SOA of zone `apex`, with our fixed contents. */
function assertSoa(r: Response, rec: Record | undefined, apex: string): void {
  assert.ok(rec, 'an SOA record');
  assert.equal(rec.name.toLowerCase(), apex);
  assert.equal(rec.type, T.SOA);
  assert.equal(rec.ttl, DNS_TTL_SECONDS);
  const mname = readName(r.msg, rec.at);
  const rname = readName(r.msg, mname.end);
  assert.equal(mname.name, 'rovy');
  assert.equal(rname.name, 'hostmaster.rovy');
  const timers = Buffer.from(r.msg.subarray(rname.end, rec.at + rec.rdata.length));
  assert.deepEqual([0, 4, 8, 12, 16].map((o) => timers.readUInt32BE(o)), [1, 3600, 600, 86400, DNS_TTL_SECONDS]);
}

test('AAAA for a petname: the address, authoritative, ID and RD kept', () => {
  const { r, outcome } = ask(query('alice.rovy', T.AAAA, { id: 0x1234 }));
  assert.equal(outcome, 'answered');
  assert.equal(r.id, 0x1234);
  assert.ok(r.qr && r.aa && r.rd && !r.ra && !r.tc);
  assert.equal(r.rcode, 0);
  assert.equal(r.answers.length, 1);
  assert.equal(r.authority.length, 0);
  assert.equal(r.additional.length, 0, 'no OPT without EDNS in the query');
  const [a] = r.answers;
  assert.deepEqual([a!.name, a!.type, a!.class, a!.ttl], ['alice.rovy', T.AAAA, 1, DNS_TTL_SECONDS]);
  assert.deepEqual(a!.rdata, ALICE);
  assert.equal(ask(query('alice.rovy', T.AAAA, { rd: false })).r.rd, false, 'RD copied when clear');
  const cd = query('alice.rovy', T.AAAA);
  cd[3] = 0x10;
  const out = new Uint8Array(512);
  answerDnsQuery(cd, stubZone(), out);
  assert.equal(out[3], 0x10, 'CD copied (RFC 4035 §3.1.6), rcode 0');
});

test('AAAA for a peer ID label, and ANY gives the AAAA too', () => {
  const { r } = ask(query(`${PEER_ID}.rovy`, T.AAAA));
  assert.deepEqual(r.answers[0]!.rdata, PEER);
  const any = ask(query(`${PEER_ID}.rovy`, T.ANY)).r;
  assert.equal(any.answers[0]!.type, T.AAAA);
  assert.deepEqual(any.answers[0]!.rdata, PEER);
});

test('lookup ignores case; the echoed question keeps it', () => {
  const zone = stubZone();
  const q = query('AlIcE.RoVy', T.AAAA);
  const { r } = ask(q, zone);
  assert.deepEqual(zone.asked, ['alice']);
  assert.deepEqual(r.question, q.subarray(12), 'question byte for byte');
  assert.equal(Buffer.from(r.question).toString('latin1', 1, 6), 'AlIcE');
  assert.deepEqual(r.answers[0]!.rdata, ALICE);
});

test('an unknown name, or one deeper than a label, is NXDOMAIN with the SOA', () => {
  for (const name of ['nobody.rovy', 'alice.alice.rovy']) {
    const { r, outcome } = ask(query(name, T.AAAA));
    assert.equal(outcome, 'nxdomain', name);
    assert.equal(r.rcode, 3, name);
    assert.ok(r.aa);
    assert.equal(r.answers.length, 0);
    assert.equal(r.authority.length, 1);
    assertSoa(r, r.authority[0], 'rovy');
  }
});

test('an existing name asked for another type is NODATA with the SOA', () => {
  const { r, outcome } = ask(query('alice.rovy', T.A));
  assert.equal(outcome, 'nodata');
  assert.equal(r.rcode, 0);
  assert.ok(r.aa);
  assert.equal(r.answers.length, 0);
  assertSoa(r, r.authority[0], 'rovy');
});

test('the apex has an SOA and nothing else', () => {
  const soa = ask(query('rovy', T.SOA));
  assert.equal(soa.outcome, 'answered');
  assert.equal(soa.r.authority.length, 0);
  assertSoa(soa.r, soa.r.answers[0], 'rovy');
  const ns = ask(query('ROVY', T.NS));
  assert.equal(ns.outcome, 'nodata');
  assert.equal(ns.r.rcode, 0);
  assertSoa(ns.r, ns.r.authority[0], 'rovy');
});

test('PTR for an fc address gives <label>.rovy., hex digits in either case', () => {
  for (const [address, label] of [[ALICE, 'alice'], [PEER, PEER_ID]] as const) {
    for (const upper of [false, true]) {
      const { r, outcome } = ask(query(reverseName(address, upper), T.PTR));
      assert.equal(outcome, 'answered');
      assert.ok(r.aa);
      assert.equal(r.answers.length, 1);
      const a = r.answers[0]!;
      assert.equal(a.type, T.PTR);
      assert.equal(a.ttl, DNS_TTL_SECONDS);
      assert.equal(readName(r.msg, a.at).name, `${label}.rovy`);
    }
  }
  assert.equal(ask(query(reverseName(ALICE), T.ANY)).r.answers[0]!.type, T.PTR);
  assert.equal(ask(query(reverseName(ALICE), T.AAAA)).outcome, 'nodata');
});

test('PTR for an unknown fc address is NXDOMAIN with the reverse zone SOA', () => {
  const zone = stubZone();
  const { r, outcome } = ask(query(reverseName(UNKNOWN), T.PTR), zone);
  assert.equal(outcome, 'nxdomain');
  assert.equal(r.rcode, 3);
  assert.deepEqual(zone.asked, [Buffer.from(UNKNOWN).toString('hex')], 'the address read from the nibbles');
  assertSoa(r, r.authority[0], 'c.f.ip6.arpa');
});

test('zone answers that are not DNS data count as no name', () => {
  const odd: RovyZone = { addressOf: () => Uint8Array.of(0xfc, 0, 0, 1), labelOf: () => 'x'.repeat(64) };
  assert.equal(ask(query('short.rovy', T.AAAA), odd).outcome, 'nxdomain', 'a 4-byte address');
  assert.equal(ask(query(reverseName(ALICE), T.PTR), odd).outcome, 'nxdomain', 'a 64-byte label');
  const ok: RovyZone = { addressOf: () => null, labelOf: () => 'x'.repeat(63) };
  assert.equal(ask(query(reverseName(ALICE), T.PTR), ok).outcome, 'answered', 'a 63-byte label');
});

test('inside c.f.ip6.arpa: partial names are empty non-terminals, bad ones do not exist', () => {
  const partial = ask(query('0.0.c.f.ip6.arpa', T.PTR));
  assert.equal(partial.outcome, 'nodata');
  assertSoa(partial.r, partial.r.authority[0], 'c.f.ip6.arpa');
  assert.equal(ask(query('c.f.ip6.arpa', T.SOA)).outcome, 'answered');
  assert.equal(ask(query('x.c.f.ip6.arpa', T.PTR)).outcome, 'nxdomain', 'not a nibble');
  assert.equal(ask(query('00.c.f.ip6.arpa', T.PTR)).outcome, 'nxdomain', 'two digits in a label');
  const zone = stubZone();
  assert.equal(ask(query(`0.${reverseName(ALICE)}`, T.PTR), zone).outcome, 'nxdomain', '33 nibbles');
  assert.deepEqual(zone.asked, [], 'no address has 33 nibbles');
});

test('names outside our zones are REFUSED, question echoed, nothing authoritative', () => {
  const db8 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(12).fill(0));
  const fd = Uint8Array.of(0xfd, ...ALICE.subarray(1));
  for (const [name, qtype] of [[reverseName(db8), T.PTR], [reverseName(fd), T.PTR], ['example.com', T.AAAA], ['f.ip6.arpa', T.SOA], ['', T.NS]] as const) {
    const q = query(name, qtype);
    const { r, outcome } = ask(q);
    assert.equal(outcome, 'outside', name);
    assert.equal(r.rcode, 5, name);
    assert.ok(!r.aa, name);
    assert.equal(r.answers.length + r.authority.length, 0, name);
    assert.deepEqual(r.question, q.subarray(12), name);
  }
  assert.equal(ask(query('alice.rovy', T.AAAA, { qclass: 3 })).outcome, 'refused', 'class CH');
});

test('EDNS: an OPT in the query gets ours back, 1232 bytes, version 0, no options', () => {
  const { r, outcome } = ask(query('alice.rovy', T.AAAA, { edns: 0 }));
  assert.equal(outcome, 'answered');
  assert.equal(r.additional.length, 1);
  const o = r.additional[0]!;
  assert.deepEqual([o.name, o.type, o.class, o.ttl, o.rdata.length], ['', T.OPT, 1232, 0, 0]);
  // Also on negative answers.
  const nx = ask(query('nobody.rovy', T.AAAA, { edns: 0 })).r;
  assert.equal(nx.additional[0]!.type, T.OPT);
});

test('EDNS version 1 is BADVERS: extended rcode 1 in the OPT, 0 in the header', () => {
  const { r, outcome } = ask(query('alice.rovy', T.AAAA, { edns: 1 }));
  assert.equal(outcome, 'formerr');
  assert.equal(r.rcode, 0);
  assert.equal(r.answers.length, 0);
  assert.equal(r.additional.length, 1);
  assert.equal(r.additional[0]!.ttl, 0x01000000, 'ext-rcode 1, version 0, no flags');
});

test('two OPT records, or one not at the root, are FORMERR', () => {
  const twice = query('alice.rovy', T.AAAA, { edns: 0 });
  const bytes = [...twice, ...opt(0)];
  bytes[11] = 2;
  const a = ask(Uint8Array.from(bytes));
  assert.equal(a.outcome, 'formerr');
  assert.equal(a.r.rcode, 1);
  const named = [...query('alice.rovy', T.AAAA)];
  named[11] = 1;
  named.push(...opt(0, nameBytes('x')));
  const b = ask(Uint8Array.from(named));
  assert.equal(b.outcome, 'formerr');
  assert.equal(b.r.rcode, 1);
});

test('an opcode other than QUERY is NOTIMP, question echoed', () => {
  const q = query('alice.rovy', T.AAAA, { opcode: 2 });
  const { r, outcome } = ask(q);
  assert.equal(outcome, 'notimp');
  assert.equal(r.rcode, 4);
  assert.equal(r.opcode, 2);
  assert.equal(r.answers.length, 0);
  assert.deepEqual(r.question, q.subarray(12));
});

test('malformed queries are dropped', () => {
  const ok = query('alice.rovy', T.AAAA);
  const edit = (f: (b: number[]) => void): Uint8Array => {
    const b = [...ok];
    f(b);
    return Uint8Array.from(b);
  };
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['11 bytes', ok.subarray(0, 11)],
    ['a bare header', ok.subarray(0, 12)],
    ['QR set', edit((b) => (b[2]! |= 0x80))],
    ['TC set', edit((b) => (b[2]! |= 0x02))],
    ['qdcount 0', edit((b) => (b[5] = 0))],
    ['qdcount 2', edit((b) => (b[5] = 2))],
    ['name cut short', ok.subarray(0, 16)],
    ['qtype cut short', ok.subarray(0, ok.length - 3)],
    ['label length 64', Uint8Array.from([...ok.subarray(0, 12), 64, ...new Array<number>(64).fill(0x61), 0, 0, 28, 0, 1])],
    ['label type 01', edit((b) => (b[12] = 0x45))],
    ['label type 10', edit((b) => (b[12] = 0x85))],
    ['pointer in the question', Uint8Array.from([...ok.subarray(0, 18), 0xc0, 12, 0, 28, 0, 1])],
    ['name of 256 bytes', query(Array.from({ length: 3 }, () => 'a'.repeat(63)).concat('a'.repeat(62)).join('.'), T.AAAA)],
    ['name of 321 bytes', query(Array.from({ length: 5 }, () => 'a'.repeat(63)).join('.'), T.AAAA)],
    ['ancount 1 with trailing bytes', edit((b) => { b[7] = 1; b.push(0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 0); })],
    ['nscount 1', edit((b) => (b[9] = 1))],
    ['arcount 1, nothing there', edit((b) => (b[11] = 1))],
    ['OPT RDATA cut short', query('alice.rovy', T.AAAA, { edns: 0 }).subarray(0, ok.length + 15)],
    ['trailing garbage', Uint8Array.from([...ok, 0])],
  ];
  for (const [what, q] of cases) {
    const out = new Uint8Array(512).fill(0xa5);
    assert.deepEqual(answerDnsQuery(q, stubZone(), out), { length: 0, outcome: 'malformed' }, what);
  }
  // The limits themselves are fine: a 63-byte label, a 255-byte name.
  const longest = Array.from({ length: 3 }, () => 'a'.repeat(63)).concat('a'.repeat(61)).join('.');
  assert.equal(nameBytes(longest).length, 255);
  assert.equal(ask(query(longest, T.A)).outcome, 'outside');
});

test('a response that would not fit the buffer is not written past its end', () => {
  const backing = new Uint8Array(64).fill(0xa5);
  const out = backing.subarray(0, 40);
  assert.deepEqual(answerDnsQuery(query('alice.rovy', T.AAAA), stubZone(), out), { length: 0, outcome: 'malformed' });
  assert.ok(backing.subarray(40).every((b) => b === 0xa5), 'bytes past the end untouched');
});

test('random bytes and mutated queries never throw or overrun', () => {
  // Seeded, so that a failure names the seed and iteration that reproduce it.
  const SEED = 0x0d15ea5e;
  const random = rng(SEED);
  const below = (n: number): number => Math.floor(random() * n);
  const zone = stubZone();
  const backing = new Uint8Array(600);
  const out = backing.subarray(0, 512);
  const run = (q: Uint8Array, at: string): void => {
    const where = `seed ${SEED}, ${at}, query ${Buffer.from(q).toString('hex')}`;
    backing.fill(0xa5, 512);
    let length = 0;
    try {
      ({ length } = answerDnsQuery(q, zone, out));
    } catch (err) {
      assert.fail(`threw (${where}): ${(err as Error).message}`);
    }
    assert.ok(length >= 0 && length <= out.length, `length ${length} (${where})`);
    assert.ok(backing.subarray(512).every((b) => b === 0xa5), `wrote past out (${where})`);
    if (length === 0) return;
    try {
      parse(out.subarray(0, length));
    } catch (err) {
      assert.fail(`unreadable response (${where}): ${(err as Error).message}`);
    }
  };
  for (let i = 0; i < 2000; i++) run(Uint8Array.from({ length: below(80) }, () => below(256)), `random iteration ${i}`);
  const bases = [query('alice.rovy', T.AAAA, { edns: 0 }), query(reverseName(ALICE), T.PTR), query('nobody.rovy', T.ANY)];
  for (let i = 0; i < 2000; i++) {
    const q = Uint8Array.from(bases[i % bases.length]!);
    q[below(q.length)] = below(256);
    run(q, `mutation iteration ${i}`);
  }
});
