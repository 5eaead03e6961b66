// A host "on the Internet" for exit.test.ts, and the client that asks it: the host answers each
// UDP datagram with the address it came from, so a test sees whose address a packet left with
// (the exit's, masqueraded, or the client's own uplink's).
//
//   whoami.tool.js serve PORT ADDRESS...  answers on each address (a socket bound to it, so that the
//                                       answer comes from the address asked); prints "listening"
//   whoami.tool.js dns PORT ADDRESS...    a name server the same way: every question gets one TXT
//                                       record, the address the query came from
//   whoami.tool.js ask ADDRESS PORT    prints the answer; exit code 1 with no answer in 1 s
import { createSocket } from 'node:dgram';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'serve' || mode === 'dns') {
  const addresses = process.argv.slice(4);
  let bound = 0;
  for (const address of addresses) {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (msg, from) => {
      const answer = mode === 'dns' ? txtAnswer(msg, from.address) : Buffer.from(from.address);
      if (answer) socket.send(answer, from.port, from.address);
    });
    socket.bind(Number(a), address, () => {
      if (++bound === addresses.length) console.log('listening');
    });
  }
} else if (mode === 'ask' && a && b) {
  const socket = createSocket(a.includes(':') ? 'udp6' : 'udp4');
  const timer = setTimeout(() => {
    console.log('no answer');
    process.exit(1);
  }, 1000);
  socket.on('message', (msg) => {
    clearTimeout(timer);
    console.log(msg.toString());
    socket.close();
  });
  socket.on('error', (err) => {
    console.log(err.message);
    process.exit(1);
  });
  socket.send('?', Number(b), a);
} else {
  console.error('usage: whoami.tool.js serve PORT ADDRESS... | ask ADDRESS PORT');
  process.exit(2);
}

/** A response to the DNS query `query` with one TXT record holding `text`; null if it has no
 *  question. */
function txtAnswer(query: Buffer, text: string): Buffer | null {
  let i = 12;
  while (i < query.length && query[i] !== 0) i += query[i]! + 1;
  if (query.length < 12 || i + 5 > query.length) return null;
  const question = query.subarray(12, i + 5);
  const header = Buffer.from([query[0]!, query[1]!, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const data = Buffer.from(text);
  const record = Buffer.concat([Buffer.from([0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, data.length + 1, data.length]), data]);
  return Buffer.concat([header, question, record]);
}
