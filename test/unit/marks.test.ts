// The daemon's sockets carry the exit's mark (native/marks.c), so that policy routing keeps them
// on the underlay's path while the host uses an exit: a UDP socket marked once open, a TCP
// connection dialled marked from its first segment, and a plain one without. Read back from the
// kernel with ss, which shows each socket's fwmark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { native } from '../../src/native/addon.js';
import { UdpSocket } from '../../src/transport/udp.js';
import { isRoot, untilFast as until } from '../wait.js';

const MARK = 0x7279;

/** The lines of `ss ARGS -e` that mention `port` as the local or the peer port. */
const ssLines = (args: string[], port: number): string[] =>
  execFileSync('ss', [...args, '-e'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`:${port} `));

test('UDP sockets and TCP dials carry the mark; an unmarked dial does not', { skip: !isRoot && 'SO_MARK needs CAP_NET_ADMIN' }, async (t) => {
  const udp = UdpSocket.open(4, '127.0.0.1', 0);
  t.after(() => udp.close());
  udp.mark(MARK);
  assert.match(ssLines(['-uan'], udp.port).join('\n'), /fwmark:0x7279/);

  const server = createServer((s) => s.on('error', () => {}));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const marked = new Socket({ fd: native.tcpDial(4, Uint8Array.of(127, 0, 0, 1), port, MARK), readable: true, writable: true });
  const plain = new Socket({ fd: native.tcpDial(4, Uint8Array.of(127, 0, 0, 1), port, 0), readable: true, writable: true });
  t.after(() => {
    marked.destroy();
    plain.destroy();
  });
  // The client ends of the two connections, by their local ports once connected.
  await until('both connected', () => ssLines(['-tn', 'state', 'established'], port).filter((l) => l.trim().split(/\s+/)[3]?.endsWith(`:${port}`)).length === 2);
  const clients = ssLines(['-tn', 'state', 'established'], port).filter((l) => l.trim().split(/\s+/)[3]?.endsWith(`:${port}`));
  const markedLine = clients.find((l) => l.includes(`:${marked.localPort} `));
  const plainLine = clients.find((l) => l.includes(`:${plain.localPort} `));
  assert.match(markedLine ?? '', /fwmark:0x7279/, clients.join('\n'));
  assert.doesNotMatch(plainLine ?? '', /fwmark/, clients.join('\n'));
  // A refused dial is an error event on the socket, as with net.connect.
  const refused = new Socket({ fd: native.tcpDial(4, Uint8Array.of(127, 0, 0, 1), 1, MARK), readable: true, writable: true });
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
});
