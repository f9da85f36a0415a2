// The table-driven struct codec every ABI struct is built from: offsets, widths, little-endian
// byte order, wrapping to the field's width, and bytes outside the fields left alone.
import test from 'ava';
import { structCodec } from '../../src/uapi/struct-codec.js';

interface Pair { a: number; b: bigint }
const pair = structCodec<Pair>({ a: [0, 'u32'], b: [8, 'u64'] });

test('fields land at their offsets, little-endian; the padding between them is not written', (t) => {
  const bytes = new Uint8Array(16).fill(0xee);
  pair.encode(new DataView(bytes.buffer), 0, { a: 0x04030201, b: 0x0807060504030201n });
  t.deepEqual([...bytes], [1, 2, 3, 4, 0xee, 0xee, 0xee, 0xee, 1, 2, 3, 4, 5, 6, 7, 8]);
  t.deepEqual(pair.decode(new DataView(bytes.buffer), 0), { a: 0x04030201, b: 0x0807060504030201n });
});

test('values wrap to the field width as a C assignment would; decoding is unsigned', (t) => {
  const view = new DataView(new ArrayBuffer(24));
  pair.encode(view, 4, { a: -1, b: -1n });
  t.deepEqual(pair.decode(view, 4), { a: 0xffff_ffff, b: (1n << 64n) - 1n });
  pair.encode(view, 4, { a: 2 ** 32 + 5, b: (1n << 64n) + 7n });
  t.deepEqual(pair.decode(view, 4), { a: 5, b: 7n });
});
