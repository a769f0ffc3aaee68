/**
 * A copy of an encoded reply cut to header and question with TC=1 and empty other sections: the
 * "slipped" reply of response rate limiting, which makes a real client retry over TCP.
 */
export function truncatedCopy(reply: Uint8Array): Buffer {
  let o = 12;
  const qdcount = (reply[4]! << 8) | reply[5]!;
  if (qdcount > 0) {
    while (o < reply.length && reply[o] !== 0) o += reply[o]! + 1;
    o += 5;
  }
  const out = Buffer.from(reply.subarray(0, Math.min(o, reply.length)));
  out[2] = out[2]! | 0x02;
  out.fill(0, 6, 12);
  return out;
}
