// What the GNOME extension's menu shows for a given state of the daemon (gnome-extension/src/
// view.ts): the rules, in Node; the real shell runs them in test/desktop/gnome-shell-*.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PEER_ROWS, menuView, shortPeerId, type DaemonSnapshot, type Props, type Translator } from '../../gnome-extension/src/view.js';

const english: Translator = {
  _: (text) => text,
  ngettext: (one, many, n) => (n === 1 ? one : many),
};

const ID = (n: number): string => `bafzqai${String(n).padStart(4, '0')}${'x'.repeat(48)}`;

const node = (props: Props = {}): Props => ({ PeerId: ID(0), Address: 'fc00::1', Enabled: true, State: 'online', ...props });

function peer(n: number, props: Props = {}): { path: string; props: Props } {
  return {
    path: `/net/rovy/Rovy1/peer/${n}`,
    props: { PeerId: ID(n), Petname: '', Address: `fc00::${n}`, State: 'connected', RttMicroseconds: 12_345, Origin: 'config', HopCount: 1, ...props },
  };
}

function snapshot(s: Partial<DaemonSnapshot> = {}): DaemonSnapshot {
  return { node: node(), names: { Names: [] }, discovery: { Policy: 'manual' }, exit: { Node: '', KillSwitch: false, State: 'off', Offers: [] }, peers: [], neighbors: [], ...s };
}

test('no daemon on the bus: not running, nothing else', () => {
  const v = menuView(snapshot({ node: null }), english);
  assert.deepEqual({ running: v.running, enabled: v.enabled, status: v.status, peers: v.peers, neighbors: v.neighbors }, { running: false, enabled: false, status: 'Not running', peers: [], neighbors: [] });
});

test('short peer IDs skip the prefix every peer ID shares', () => {
  assert.equal(shortPeerId(ID(7)), '0007xxxx');
  assert.equal(shortPeerId('abc'), 'abc');
});

test('the node: its petname if it has one, else its short peer ID, and its address', () => {
  assert.deepEqual(menuView(snapshot(), english).node, { peerId: ID(0), title: '0000xxxx', address: 'fc00::1' });
  const named = menuView(snapshot({ names: { Names: [['desk', ID(0), 'petname'], ['bob', ID(1), 'petname']] } }), english);
  assert.equal(named.node?.title, 'desk');
});

test('peers: how each is reached, online or not, and the count in the status', () => {
  const v = menuView(snapshot({
    peers: [
      peer(1, { Petname: 'bob' }),
      peer(2, { Origin: 'routed', HopCount: 3, RttMicroseconds: 0, State: 'disconnected' }),
      peer(3, { State: 'connecting', HopCount: 0 }),
      peer(4, { State: 'disconnected', HopCount: 0, RttMicroseconds: 0 }),
      peer(5, { RttMicroseconds: 2_500 }),
    ],
  }), english);
  assert.deepEqual(v.peers.map((p) => [p.title, p.online, p.detail]), [
    ['bob', true, 'direct · 12 ms'],
    ['0005xxxx', true, 'direct · 2.5 ms'],
    // A routed peer is online while there is a route, whatever its session.
    ['0002xxxx', true, '3 hops'],
    ['0003xxxx', false, 'connecting'],
    ['0004xxxx', false, 'offline'],
  ]);
  assert.equal(v.onlinePeers, 3);
  assert.equal(v.status, '3 peers online');
  assert.equal(menuView(snapshot({ peers: [peer(1)] }), english).status, '1 peer online');
  assert.equal(menuView(snapshot({ peers: [peer(1, { State: 'disconnected' })] }), english).status, 'No peers online');
});

test('switched off, the status says so', () => {
  const v = menuView(snapshot({ node: node({ Enabled: false, State: 'disabled' }), peers: [peer(1)] }), english);
  assert.equal(v.enabled, false);
  assert.equal(v.status, 'Off');
});

test('a large mesh lists the first peers and counts the rest', () => {
  const peers = Array.from({ length: MAX_PEER_ROWS + 5 }, (_, i) => peer(i + 1, { Origin: 'routed', HopCount: 2 + (i % 3) }));
  const v = menuView(snapshot({ peers }), english);
  assert.equal(v.peers.length, MAX_PEER_ROWS);
  assert.equal(v.morePeers, 5);
  assert.equal(v.onlinePeers, MAX_PEER_ROWS + 5);
  // Fewest hops first among the unnamed.
  assert.ok(v.peers.every((p, i) => i === 0 || Number(/^(\d)/.exec(p.detail)![1]) >= Number(/^(\d)/.exec(v.peers[i - 1]!.detail)![1])));
});

test('nodes on the LAN: connectable unless they are peers already', () => {
  const v = menuView(snapshot({
    neighbors: [
      { path: '/net/rovy/Rovy1/neighbor/0', props: { PeerId: ID(9), Petname: '', Address: 'fc00::9', Interface: 'eth0', Connected: false, Peer: '/' } },
      { path: '/net/rovy/Rovy1/neighbor/1', props: { PeerId: ID(1), Petname: 'bob', Address: 'fc00::1:1', Interface: 'wlan0', Connected: true, Peer: '/net/rovy/Rovy1/peer/1' } },
    ],
  }), english);
  assert.deepEqual(v.neighbors.map((n) => [n.title, n.isPeer, n.detail]), [
    ['0009xxxx', false, 'on eth0'],
    ['bob', true, 'on wlan0 · connected'],
  ]);
});

test('the discovery policy as the daemon says, "off" for anything it does not know', () => {
  assert.equal(menuView(snapshot({ discovery: { Policy: 'auto' } }), english).policy, 'auto');
  assert.equal(menuView(snapshot({ discovery: { Policy: 'bogus' } }), english).policy, 'off');
  assert.equal(menuView(snapshot({ discovery: null }), english).policy, 'off');
});

test('every text goes through the translator', () => {
  const marked: Translator = { _: (t) => `«${t}»`, ngettext: (one, many, n) => `«${n === 1 ? one : many}»` };
  const v = menuView(snapshot({ peers: [peer(1), peer(2, { Origin: 'routed', HopCount: 2, RttMicroseconds: 0 })] }), marked);
  assert.equal(v.status, '«2 peers online»');
  assert.deepEqual(v.peers.map((p) => p.detail), ['«direct» · «12 ms»', '«2 hops»']);
});

test('the exit section: shown once some node offers an exit, nearest first, the chosen one marked', () => {
  assert.equal(menuView(snapshot(), english).exit.shown, false, 'no offers, none chosen: no section');
  assert.equal(menuView(snapshot({ exit: null }), english).exit.shown, false, 'a daemon without exits');
  const offers = [[ID(3), true, true, 3], [ID(2), true, true, 2], [ID(4), false, true, 0], [ID(5), true, false, 1]];
  const v = menuView(snapshot({ names: { Names: [['gate', ID(3), 'petname']] }, exit: { Node: ID(3), KillSwitch: false, State: 'active', Offers: offers } }), english);
  assert.equal(v.exit.shown, true);
  assert.equal(v.exit.chosen, ID(3));
  assert.equal(v.exit.note, '');
  assert.deepEqual(v.exit.options.map((o) => [o.title, o.detail, o.chosen]), [
    ['0005xxxx', 'direct · IPv4 only', false],
    ['0002xxxx', '2 hops', false],
    ['gate', '3 hops', true],
    ['0004xxxx', 'no route · IPv6 only', false],
  ]);
});

test('the exit section: a chosen exit that offers nothing now is still listed, and the state says where the traffic goes', () => {
  const away = menuView(snapshot({ exit: { Node: ID(7), KillSwitch: false, State: 'unavailable', Offers: [] } }), english);
  assert.equal(away.exit.shown, true);
  assert.deepEqual(away.exit.options.map((o) => [o.title, o.detail, o.chosen]), [['0007xxxx', 'offers no exit now', true]]);
  assert.equal(away.exit.note, 'The exit cannot be reached: traffic goes out through this network');
  const held = menuView(snapshot({ exit: { Node: ID(7), KillSwitch: true, State: 'blocked', Offers: [[ID(7), true, true, 0]] } }), english);
  assert.equal(held.exit.killSwitch, true);
  assert.equal(held.exit.note, 'The exit cannot be reached: traffic is held back');
  assert.deepEqual(held.exit.options.map((o) => o.detail), ['no route']);
});
