// The coordinator's reads of the user bitmap go through the access layer too: under a hook that
// records every access, ReportBitmap's zeroing check, drain and forEachDirty show each read and
// write, and nothing reaches memory another way (the final bytes are what the accesses did).
import test from 'ava';
import { ExploreReportBitmap, withHook, type Access } from '../../src/explore/memory.js';
import { ZeroingViolation } from '../../src/errors.js';

const CHUNK = 4096; // ReportBitmap's drain chunk
const BYTES = 3 * CHUNK + 64;

function recording<T>(body: () => T): { result: T; accesses: Access[] } {
  const accesses: Access[] = [];
  const result = withHook({ step: (access, perform) => { accesses.push(access); return perform(); } }, body);
  return { result, accesses };
}

function window(bytes: number) {
  return { iova: 0n, length: BigInt(bytes * 8) * 4096n, pageSize: 4096n };
}

test('drain: one scan per 4 KiB chunk, word loads only in chunks holding a bit, a store per set word', (t) => {
  const memory = new SharedArrayBuffer(BYTES);
  const raw = new Uint8Array(memory);
  const bitmap = new ExploreReportBitmap(memory, 0, BYTES);
  const { accesses: beginAccesses } = recording(() => bitmap.begin(window(BYTES), true));
  t.deepEqual(beginAccesses.map((a) => [a.kind, a.byteStart, a.byteEnd]), [['scan', 0, BYTES]], 'the zeroing check is one scan');
  raw[CHUNK + 5] = 0x10; // report bit (4096 + 5) * 8 + 4, in chunk 1
  raw[BYTES - 1] = 0x80; // the last bit, in the short chunk 3
  bitmap.complete();
  const words: Array<[number, number]> = [];
  const { result: pages, accesses } = recording(() => bitmap.drain((w, bits) => words.push([w, bits >>> 0])));
  t.is(pages, 2);
  t.deepEqual(words, [[(CHUNK + 4) / 4, 0x10 << 8], [BYTES / 4 - 1, 0x80000000]]);
  const scans = accesses.filter((a) => a.kind === 'scan').map((a) => [a.byteStart, a.byteEnd]);
  t.deepEqual(scans, [[0, CHUNK], [CHUNK, 2 * CHUNK], [2 * CHUNK, 3 * CHUNK], [3 * CHUNK, BYTES]]);
  const loads = accesses.filter((a) => a.kind === 'load');
  t.is(loads.length, CHUNK / 4 + 64 / 4, 'chunks 1 and 3 are read word by word, 0 and 2 are not');
  t.true(loads.every((a) => a.width === 4 && (a.byteStart >= 3 * CHUNK || (a.byteStart >= CHUNK && a.byteStart < 2 * CHUNK))));
  t.deepEqual(accesses.filter((a) => a.kind === 'store').map((a) => [a.byteStart, a.operand]), [[CHUNK + 4, 0], [BYTES - 4, 0]]);
  t.true(raw.every((b) => b === 0), 'drain leaves the bitmap zeroed, through its own stores');
  t.is(bitmap.state, 'zeroed');
});

test('begin with a stray bit: the scan finds it, the byte loads count it, the set is refused', (t) => {
  const memory = new SharedArrayBuffer(64);
  new Uint8Array(memory)[9] = 3;
  const bitmap = new ExploreReportBitmap(memory, 0, 64);
  const { accesses } = recording(() => t.throws(() => bitmap.begin(window(64), true), { instanceOf: ZeroingViolation }));
  t.deepEqual(accesses[0] && [accesses[0].kind, accesses[0].byteStart, accesses[0].byteEnd], ['scan', 0, 64]);
  t.is(accesses.filter((a) => a.kind === 'load' && a.width === 1).length, 64);
  t.is(bitmap.state, 'zeroed', 'a refused set leaves the state as it was');
});

test('forEachDirty reads the bytes through the layer', (t) => {
  const memory = new SharedArrayBuffer(8);
  const raw = new Uint8Array(memory);
  const bitmap = new ExploreReportBitmap(memory, 0, 8);
  recording(() => bitmap.begin(window(8), false));
  raw[2] = 0b101;
  bitmap.complete();
  const bits: number[] = [];
  const { accesses } = recording(() => bitmap.forEachDirty((b) => bits.push(b)));
  t.deepEqual(bits, [16, 18]);
  t.deepEqual(accesses.map((a) => [a.kind, a.byteStart, a.width]), [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ['load', i, 1]));
});
