// Asserting a refused name: the NameError, its kind (the D-Bus error it becomes) and its message.
import assert from 'node:assert/strict';
import { NameError, type NameErrorKind } from '../../src/names/label.js';

export function throwsName(fn: () => unknown, kind: NameErrorKind, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NameError, `expected NameError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, message);
    return true;
  });
}
