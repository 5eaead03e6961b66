// A flood of handshake initiations for the namespace tests: test/native/udp-flood.c built into the
// lab, sending real initiations to one node from keys it does not know, each with a valid mac1
// (computing one needs only the node's public key), again and again.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Daemon, Lab } from './netns.js';
import { ROOT } from '../repo-root.js';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { Initiation } from '../../src/noise/handshake.js';
import { MacGenerator } from '../../src/noise/cookie.js';
import { tai64nNow } from '../../src/noise/tai64n.js';
import { INITIATION_SIZE } from '../../src/noise/constants.js';

/** Distinct initiations the flood cycles through. */
const MESSAGES = 64;

export class HandshakeFlood {
  private readonly program: string;
  private readonly messages: string;

  /** Builds the flooder and the initiations to the node whose public key is `responder`. */
  constructor(
    private readonly lab: Lab,
    responder: Uint8Array,
  ) {
    this.program = join(lab.dir, 'udp-flood');
    execFileSync('cc', ['-O2', '-Wall', '-Werror', join(ROOT, 'test/native/udp-flood.c'), '-o', this.program], { stdio: 'pipe' });
    const out = Buffer.alloc(MESSAGES * INITIATION_SIZE);
    const macs = new MacGenerator(responder);
    for (let i = 0; i < MESSAGES; i++) {
      const init = Initiation.create(generateKeyPair(), responder, new Uint8Array(32), i + 1, tai64nNow());
      macs.addMacs(init.message);
      out.set(init.message, i * INITIATION_SIZE);
    }
    this.messages = lab.path('flood.bin');
    writeFileSync(this.messages, out);
  }

  /** Floods `to` (IPv4) port 7777 from namespace `ns` at `pps` for `seconds`, from `sources`
   *  (addresses of `ns`). The flooder prints "sent N" when it ends. */
  start(ns: string, to: string, pps: number, seconds: number, sources: string[]): Daemon {
    return this.lab.spawn(ns, [this.program, to, '7777', String(pps), String(seconds), this.messages, String(INITIATION_SIZE), ...sources]);
  }
}
