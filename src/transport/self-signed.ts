// The certificate a TLS listener presents: self-signed, for a fresh Ed25519 key made at start-up.
// TLS is there to look like TLS to middleboxes that pass only it; who the peer is, the Noise
// handshake inside proves. So the user needs no certificate, and a dialling node checks none.
//
// Node can parse certificates but not make them, and the certificate is small and fixed in shape:
// its DER is written here (RFC 5280, version 3 without extensions, signed with Ed25519, RFC 8410).
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

export interface TlsIdentity {
  /** PEM private key (PKCS #8) and certificate, as node:tls takes them. */
  key: string;
  cert: string;
}

const OID_ED25519 = [0x06, 0x03, 0x2b, 0x65, 0x70];
const OID_COMMON_NAME = [0x06, 0x03, 0x55, 0x04, 0x03];

/** A new key and a certificate for it, valid from a day ago with no expiry, named CN=`name`. */
export function selfSignedIdentity(name = 'rovy', now = new Date()): TlsIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const algorithm = der(0x30, OID_ED25519);
  const subject = der(0x30, der(0x31, der(0x30, [...OID_COMMON_NAME, ...der(0x0c, [...Buffer.from(name, 'utf8')])])));
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // a positive INTEGER
  serial[0]! |= 0x01; // with no leading zero byte to drop
  const notBefore = new Date(now.getTime() - 86_400_000);
  const tbs = der(0x30, [
    ...der(0xa0, der(0x02, [0x02])), // version 3
    ...der(0x02, [...serial]),
    ...algorithm,
    ...subject, // issuer: itself
    ...der(0x30, [...der(0x17, ascii(utcTime(notBefore))), ...der(0x18, ascii('99991231235959Z'))]), // RFC 5280: no expiry
    ...subject,
    ...spki,
  ]);
  const signature = sign(null, Buffer.from(tbs), privateKey);
  const certificate = der(0x30, [...tbs, ...algorithm, ...der(0x03, [0x00, ...signature])]);
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: pem('CERTIFICATE', certificate) };
}

/** One DER element: tag, definite length, content. */
function der(tag: number, content: number[]): number[] {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return [tag, ...length, ...content];
}

function ascii(text: string): number[] {
  return [...Buffer.from(text, 'ascii')];
}

/** UTCTime text (YYMMDDHHMMSSZ), for dates from 1950 to 2049. */
function utcTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
}

function pem(label: string, bytes: number[]): string {
  const lines = Buffer.from(bytes).toString('base64').match(/.{1,64}/g)!;
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
