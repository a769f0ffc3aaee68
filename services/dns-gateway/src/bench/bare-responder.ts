/**
 * The platform's floor for the DNS benchmark: a bare Node `dgram` server that answers every query
 * with one fixed A record (header and question copied, one compressed answer appended) and does
 * nothing else — what any DNS server written in Node can at best reach on this machine.
 *
 * Run as a child: `node bare-responder.js <port> [numeric-lookup]`; prints `listening <port>`. With
 * `numeric-lookup` its socket gets the gateway's address lookup (udp-server.ts `numericLookup`:
 * replies to numeric addresses leave without a turn through `dns.lookup`), so the benchmark shows
 * what that alone is worth and what the gateway reaches against a floor that has it too.
 */
import dgram from 'node:dgram';
import { numericLookup } from '../transport/udp-server.js';

const socket = process.argv[3] === 'numeric-lookup' ? dgram.createSocket({ type: 'udp4', lookup: numericLookup }) : dgram.createSocket('udp4');
// Name pointer to the question (0xc00c), type A, class IN, TTL 60, 4 bytes: 127.0.0.11.
const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 11]);
socket.on('message', (msg, rinfo) => {
  if (msg.length < 12) return;
  let o = 12;
  while (o < msg.length && msg[o] !== 0) o += msg[o]! + 1;
  o += 5;
  if (o > msg.length) return;
  const out = Buffer.allocUnsafe(o + answer.length);
  msg.copy(out, 0, 0, o);
  out[2] = 0x84 | (msg[2]! & 0x01); // QR, AA, RD copied
  out[3] = 0;
  out.writeUInt16BE(1, 6);
  out.writeUInt32BE(0, 8); // no authority or additional records
  answer.copy(out, o);
  socket.send(out, rinfo.port, rinfo.address);
});
socket.bind(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024);
  } catch {
    // capped by the kernel
  }
  process.stdout.write(`listening ${socket.address().port}\n`);
});
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
