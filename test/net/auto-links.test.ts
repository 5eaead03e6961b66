// Links the daemons keep by themselves (issue 14, 4), with their default timings: six nodes on one
// network segment. B is a public node; four more public nodes joined through it and keep two
// links each; a newcomer N lists nothing but B in links.bootstrap, and keeps links.target = 3.
// Each public node publishes its address (links.publish), signed, and neighbours pass the records
// on. N ends with three links of origin "auto" to nodes it learned of that way, reaches the nodes
// it has no link to through the others, and when one of its links dies it links to another.
//
//   B, P1..P4, N on one bridge (fd00:15::/64); every node could reach every other, none is told of
//   any but B.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, isRoot, nsExec, sh, until, type Daemon, type DaemonState } from './netns.js';

interface KeeperState extends DaemonState {
  links: DaemonState['links'] & {
    keeper: { target: number; kept: number; candidates: number; bootstrap: number };
    exchange: { publishing: string[]; contacts: number; counters: Record<string, number>; records: Record<string, number> };
  };
}

test('a newcomer given only a bootstrap node keeps three links to nodes it learned of, and replaces one that dies', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  try {
    const names = ['b', 'p1', 'p2', 'p3', 'p4', 'n'];
    const spaces = names.map((name) => lab.namespace(`k${name}`));
    lab.lan(spaces);
    spaces.forEach((ns, i) => sh('ip', ['-n', ns, 'addr', 'add', `fd00:15::${i + 1}/64`, 'dev', 'lan0', 'nodad']));
    const nodes = names.map((name) => lab.initNode(name));
    const [b, , , , , n] = nodes as [(typeof nodes)[0], unknown, unknown, unknown, unknown, (typeof nodes)[0]];
    const bootstrap = `bootstrap = ["/ip6/fd00:15::1/udp/7777/rovy/${b.peerId}"]`;
    const publicNode = (i: number, extra: string[]) =>
      ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[links]', 'accept = "anyone"', `publish = ["/ip6/fd00:15::${i + 1}/udp/7777"]`, ...extra].join('\n');
    lab.file('b/rovy.toml', publicNode(0, []));
    for (let i = 1; i <= 4; i++) lab.file(`${names[i]}/rovy.toml`, publicNode(i, [bootstrap, 'target = 2']));
    lab.file('n/rovy.toml', ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[links]', bootstrap, 'target = 3'].join('\n'));

    const daemons = new Map<string, Daemon>();
    for (let i = 0; i < 5; i++) daemons.set(nodes[i]!.peerId, lab.start(spaces[i]!, nodes[i]!.config));
    const state = async (peerId: string) => (await daemons.get(peerId)!.state()) as KeeperState;
    await until('B holds the four public nodes\' records', async () => (await state(b.peerId)).links.exchange.contacts === 4, 30_000);
    const daemonN = lab.start(spaces[5]!, n.config);
    daemons.set(n.peerId, daemonN);
    const autoLinks = async () => (await state(n.peerId)).peers.filter((p) => p.origin === 'auto' && p.state === 'connected');

    await t.test('the newcomer keeps three links, made by itself to nodes peer exchange told it of', async () => {
      // Up for routing too (the keeper's view), which follows the session by a hello or two.
      const ms = await until('N has three auto links up', async () => (await autoLinks()).length === 3 && (await state(n.peerId)).links.keeper.kept === 3, 60_000).catch((e: Error) =>
        assert.fail(`${e.message}\nexit ${daemonN.child.exitCode}\n${daemonN.log}`),
      );
      t.diagnostic(`three links up ${Math.round(ms)} ms after N started`);
      const s = await state(n.peerId);
      assert.equal(s.links.keeper.kept, 3);
      assert.ok(s.links.exchange.contacts >= 4, `N learned only ${s.links.exchange.contacts} records`);
      assert.equal(s.links.exchange.records.invalid, 0);
      assert.deepEqual(s.links.exchange.publishing, [], 'N accepts no one: it must publish nothing');
      assert.ok(s.peers.every((p) => p.origin !== 'config' && p.origin !== 'runtime'), 'N was told of a peer');
      assert.match(daemonN.log, /linking to /);
    });

    await t.test('it reaches a node it has no link to, through its links', async () => {
      const linked = new Set((await autoLinks()).map((p) => p.peerId));
      const far = nodes.find((x) => x !== n && !linked.has(x.peerId))!;
      await until('N reaches a node it is not linked to', () => nsExec(spaces[5]!, 'ping', ['-6', '-n', '-c', '1', '-W', '1', far.address]).code === 0, 30_000);
      const r = nsExec(spaces[5]!, 'ping', ['-6', '-n', '-c', '2', '-i', '0.2', '-W', '1', far.address]);
      assert.match(r.out, /2 received/, r.out);
      assert.doesNotMatch(r.out, /ttl=64/, 'a direct link after all');
    });

    await t.test('when one of its links dies it links to another node', async () => {
      const before = await autoLinks();
      // Not B: the bootstrap node stays up, as public nodes do.
      const victim = before.find((p) => p.peerId !== b.peerId) ?? before[0]!;
      await daemons.get(victim.peerId)!.stop();
      const ms = await until('N has three links up again, none to the dead node', async () => {
        const now = await autoLinks();
        return now.length === 3 && !now.some((p) => p.peerId === victim.peerId);
      }, 120_000);
      t.diagnostic(`replaced ${Math.round(ms)} ms after the node stopped (a link down for a minute is dropped)`);
      const s = await state(n.peerId);
      assert.ok(!s.peers.some((p) => p.peerId === victim.peerId && p.origin === 'auto'), 'the dead link is still kept');
    });
  } finally {
    await lab.cleanup();
  }
});
