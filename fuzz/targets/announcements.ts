// Routing control frames from a neighbour: announcements (signed link-state records), database
// requests, acknowledgements. Nothing throws, and an announcement that does not verify is never
// stored.
import { Router } from '../../src/routing/router.js';
import { decodeAnnouncement, verifyAnnouncement } from '../../src/routing/announcement.js';
import { LOCAL, PEER } from '../keys.js';
import { invariant } from '../expect.js';

const clock = { mono: 0, wall: 1_767_225_600_000 };
const router = new Router({ identity: LOCAL, mtu: 1420, send: () => {}, now: () => clock.mono, wallNow: () => clock.wall });
router.linkUp(1, PEER.publicKey);

export function fuzz(data: Buffer): void {
  clock.mono += 100;
  clock.wall += 100;
  const alone = decodeAnnouncement(data, 2);
  const before = router.stats().announcements;
  router.receive(1, data);
  router.tick();
  // A frame of one announcement that added to the database: that announcement must verify.
  if (router.stats().announcements > before && alone && data.length === 2 + alone.announcement.bytes.length) {
    invariant(verifyAnnouncement(alone.announcement), 'an announcement stored that does not verify');
  }
}
