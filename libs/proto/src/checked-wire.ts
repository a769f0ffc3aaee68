import type { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/**
 * A hand-written decoder's refusal: which field, at which byte offset, and why, for an
 * INVALID_ARGUMENT a person can act on ("queries[3].domain at byte 41: length 200 runs past the
 * end of its message at byte 60").
 */
export class WireDecodeError extends Error {
  override readonly name = 'WireDecodeError';
  constructor(
    readonly field: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${field} at byte ${offset}: ${reason}`);
  }
}

const wireTypeNames = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

/**
 * The checks `BinaryReader` leaves to its caller, which a hand-written decoder must make to never
 * decode differently from the reflective one (protobuf encoding spec:
 * https://protobuf.dev/programming-guides/encoding/):
 * - a known field with another wire type than its declared one is refused (read as its declared
 *   type it would yield a wrong value);
 * - a length-delimited field must end within its parent message (`BinaryReader` checks only the
 *   end of the whole buffer, so a nested message could silently swallow its parent's next fields);
 * - a nested message must end exactly at its declared end.
 * Reader errors (truncation, varints over 10 bytes, bad tags) are turned into
 * {@link WireDecodeError}s naming the field by {@link decodeField}.
 */
export function expectWireType(field: string, offset: number, actual: WireType, expected: WireType): void {
  if (actual !== expected) throw new WireDecodeError(field, offset, `wire type ${wireTypeNames[actual] ?? actual}, expected ${wireTypeNames[expected]}`);
}

/** Reads a length prefix at the reader's position and returns the end it declares, checked against `parentEnd`. */
export function readLengthEnd(reader: BinaryReader, field: string, parentEnd: number): number {
  const at = reader.pos;
  const length = decodeField(reader, field, () => reader.uint32());
  const end = reader.pos + length;
  if (end > parentEnd) throw new WireDecodeError(field, at, `length ${length} runs past the end of its message at byte ${parentEnd}`);
  return end;
}

/** Checks that a nested message's fields ended exactly at its declared end. */
export function expectEnd(reader: BinaryReader, field: string, end: number): void {
  if (reader.pos !== end) throw new WireDecodeError(field, end, `its last field runs past the message's declared end (to byte ${reader.pos})`);
}

/** Skips an unknown field, within `end`. */
export function skipField(reader: BinaryReader, field: string, fieldNo: number, wireType: WireType, end: number): void {
  const at = reader.pos;
  decodeField(reader, field, () => reader.skip(wireType, fieldNo));
  if (reader.pos > end) throw new WireDecodeError(field, at, `unknown field ${fieldNo} runs past the end of its message at byte ${end}`);
}

/** Runs `read`, turning a reader error into a {@link WireDecodeError} for `field` at the current offset. */
export function decodeField<T>(reader: BinaryReader, field: string, read: () => T): T {
  const at = reader.pos;
  try {
    return read();
  } catch (error) {
    if (error instanceof WireDecodeError) throw error;
    throw new WireDecodeError(field, at, (error as Error).message);
  }
}

/** Reads a tag, naming `field` (the message being read) on failure. */
export function readTag(reader: BinaryReader, field: string): [number, WireType] {
  return decodeField(reader, field, () => reader.tag());
}

/**
 * Reads a string field, within `end`. Invalid UTF-8 is refused, as the reflective decoder refuses
 * it in proto3 `string` fields (and a replacement character would be a silently different value).
 */
export function readString(reader: BinaryReader, field: string, end: number): string {
  return decodeUtf8(readBytes(reader, field, end), field, reader.pos);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 `bytes` of `field`, refusing invalid sequences (`offset`: where the field ended). */
export function decodeUtf8(bytes: Uint8Array, field: string, offset: number): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new WireDecodeError(field, offset - bytes.length, 'invalid UTF-8');
  }
}

/** Reads a bytes field, within `end` (a view into the reader's buffer). */
export function readBytes(reader: BinaryReader, field: string, end: number): Uint8Array {
  const at = reader.pos;
  readLengthEnd(reader, field, end);
  reader.pos = at;
  return decodeField(reader, field, () => reader.bytes());
}

/** Reads a scalar (varint or fixed) with `read`, checking it stays within `end`. */
export function readScalar<T>(reader: BinaryReader, field: string, end: number, read: () => T): T {
  const at = reader.pos;
  const value = decodeField(reader, field, read);
  if (reader.pos > end) throw new WireDecodeError(field, at, `value runs past the end of its message at byte ${end}`);
  return value;
}
