// Reproduces the published cacophony test vectors of the Noise IK family (../shared/vectors/noise/)
// byte for byte: every handshake and transport message, and the handshake hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from '../repo-root.js';
import { HandshakeState, parseIkProtocolName } from '../../src/noise/ik.js';
import { CipherState } from '../../src/noise/cipher-state.js';
import { publicKeyOf } from '../../src/noise/primitives.js';
import { CONSTRUCTION } from '../../src/noise/constants.js';

interface VectorMessage {
  payload: string;
  ciphertext: string;
}
interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_psks?: string[];
  init_static: string;
  init_ephemeral: string;
  init_remote_static: string;
  resp_prologue: string;
  resp_psks?: string[];
  resp_static: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: VectorMessage[];
}

// A copy of ../shared/vectors/noise (cacophony's vectors), kept in the repo so a clone is complete.
const vectorDir = resolve(ROOT, 'test', 'vectors', 'noise');
const vectors: Vector[] = [];
for (const name of readdirSync(vectorDir).filter((n) => n.endsWith('.json')).sort()) {
  const doc = JSON.parse(readFileSync(join(vectorDir, name), 'utf8')) as { vectors: Vector[] };
  vectors.push(...doc.vectors);
}

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function keyPair(privHex: string): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = hex(privHex);
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

test('the vector files hold the protocols rovy must reproduce', () => {
  const names = vectors.map((v) => v.protocol_name);
  assert.ok(names.includes(CONSTRUCTION), `no ${CONSTRUCTION} vector`);
  assert.ok(names.includes('Noise_IK_25519_ChaChaPoly_BLAKE2s'), 'no Noise_IK vector');
});

for (const v of vectors) {
  const parsed = parseIkProtocolName(v.protocol_name);
  test(`vector ${v.protocol_name}`, { skip: parsed === null ? 'not an IK-family protocol' : false }, () => {
    const { pattern, pskPosition } = parsed!;
    const ipsk = v.init_psks ?? [];
    const rpsk = v.resp_psks ?? [];
    assert.equal(ipsk.length, pskPosition === null ? 0 : 1);
    const initiator = new HandshakeState({
      pattern,
      initiator: true,
      prologue: hex(v.init_prologue),
      staticKeys: keyPair(v.init_static),
      remoteStatic: hex(v.init_remote_static),
      ephemeral: keyPair(v.init_ephemeral),
      ...(pskPosition === null ? {} : { psk: hex(ipsk[0]!), pskPosition }),
    });
    const responder = new HandshakeState({
      pattern,
      initiator: false,
      prologue: hex(v.resp_prologue),
      staticKeys: keyPair(v.resp_static),
      ephemeral: keyPair(v.resp_ephemeral),
      ...(pskPosition === null ? {} : { psk: hex(rpsk[0]!), pskPosition }),
    });
    assert.equal(initiator.protocolName, v.protocol_name);
    assert.equal(toHex(initiator.remoteStatic!), toHex(keyPair(v.resp_static).publicKey));

    let initSend: CipherState | null = null;
    let initRecv: CipherState | null = null;
    let respSend: CipherState | null = null;
    let respRecv: CipherState | null = null;
    v.messages.forEach((m, i) => {
      const fromInitiator = i % 2 === 0;
      const payload = hex(m.payload);
      if (!initiator.isComplete) {
        const [writer, reader] = fromInitiator ? [initiator, responder] : [responder, initiator];
        const ct = writer.writeMessage(payload);
        assert.equal(toHex(ct), m.ciphertext, `handshake message ${i}`);
        const read = reader.readMessage(ct);
        assert.ok(read, `handshake message ${i} was not accepted`);
        assert.equal(toHex(read), m.payload);
        if (initiator.isComplete) {
          assert.ok(responder.isComplete);
          assert.equal(toHex(initiator.handshakeHash), v.handshake_hash, 'initiator handshake hash');
          assert.equal(toHex(responder.handshakeHash), v.handshake_hash, 'responder handshake hash');
          const ik = initiator.split();
          const rk = responder.split();
          assert.equal(toHex(ik.send), toHex(rk.receive));
          assert.equal(toHex(ik.receive), toHex(rk.send));
          initSend = new CipherState(ik.send);
          initRecv = new CipherState(ik.receive);
          respSend = new CipherState(rk.send);
          respRecv = new CipherState(rk.receive);
        }
        return;
      }
      const send = fromInitiator ? initSend! : respSend!;
      const recv = fromInitiator ? respRecv! : initRecv!;
      const ct = send.encryptWithAd(new Uint8Array(0), payload);
      assert.equal(toHex(ct), m.ciphertext, `transport message ${i}`);
      const pt = recv.decryptWithAd(new Uint8Array(0), ct);
      assert.ok(pt, `transport message ${i} was not accepted`);
      assert.equal(toHex(pt), m.payload);
    });
    assert.ok(initiator.isComplete && responder.isComplete, 'the vector ended before the handshake did');
    assert.ok(initSend !== null, 'no transport messages were checked');
  });
}

test('a flipped bit in any byte of the vector handshake messages is rejected', () => {
  const v = vectors.find((x) => x.protocol_name === CONSTRUCTION)!;
  const psk = hex(v.init_psks![0]!);
  const make = () => ({
    initiator: new HandshakeState({
      initiator: true,
      prologue: hex(v.init_prologue),
      staticKeys: keyPair(v.init_static),
      remoteStatic: hex(v.init_remote_static),
      ephemeral: keyPair(v.init_ephemeral),
      psk,
      pskPosition: 2,
    }),
    responder: new HandshakeState({
      initiator: false,
      prologue: hex(v.resp_prologue),
      staticKeys: keyPair(v.resp_static),
      ephemeral: keyPair(v.resp_ephemeral),
      psk,
      pskPosition: 2,
    }),
  });
  const { initiator, responder } = make();
  const m1 = initiator.writeMessage(hex(v.messages[0]!.payload));
  for (let i = 0; i < m1.length; i++) {
    const bad = m1.slice();
    bad[i]! ^= 0x01;
    assert.equal(responder.readMessage(bad), null, `message 1 byte ${i}`);
  }
  // The rejected attempts left the responder untouched: the genuine message still reads.
  assert.ok(responder.readMessage(m1));
  const m2 = responder.writeMessage(hex(v.messages[1]!.payload));
  assert.equal(toHex(m2), v.messages[1]!.ciphertext);
  for (let i = 0; i < m2.length; i++) {
    const bad = m2.slice();
    bad[i]! ^= 0x80;
    assert.equal(initiator.readMessage(bad), null, `message 2 byte ${i}`);
  }
  assert.equal(initiator.readMessage(m2.subarray(0, m2.length - 1)), null, 'truncated message 2');
  assert.ok(initiator.readMessage(m2));
  assert.equal(toHex(initiator.handshakeHash), v.handshake_hash);
});
