// Peer exchange frames (a neighbour's hop plaintext): each is decoded or refused whole, and each
// record in it stored or counted refused, once, in a book that stays bounded.
import { decodeContactsFrame } from '../../src/discovery/exchange.js';
import { ContactBook, MAX_CONTACTS } from '../../src/discovery/contact-book.js';
import { invariant } from '../expect.js';

/** The targets' wall clock (seeds are signed to expire an hour after it). */
const NOW = 1_767_225_600_000;
const book = new ContactBook();

export function fuzz(data: Buffer): void {
  const records = decodeContactsFrame(data);
  if (!records) return;
  const c = book.counters;
  for (const record of records) {
    const before = c.stored + c.invalid + c.known + c.full;
    book.offer(record, NOW);
    invariant(c.stored + c.invalid + c.known + c.full === before + 1, 'a record not counted exactly once');
  }
  invariant(book.size <= MAX_CONTACTS, 'the book grew past its bound');
}
