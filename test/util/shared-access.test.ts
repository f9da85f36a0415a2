import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIRECT_ACCESS, SharedAccess } from '../../src/util/shared-access.js';

// The repository (this file runs as dist/test/util/shared-access.test.js).
const root = fileURLToPath(new URL('../../../', import.meta.url));

test('the atomic accesses are the Atomics functions themselves (no wrapper for V8 to inline)', (t) => {
  const p = SharedAccess.prototype as unknown as Record<string, unknown>;
  t.is(p.or32, Atomics.or);
  t.is(p.and32, Atomics.and);
  t.is(p.exchange32, Atomics.exchange);
  t.is(p.add32, Atomics.add);
  t.is(p.atomicLoad32, Atomics.load);
  t.is(p.atomicStore32, Atomics.store);
  t.is(p.or8, Atomics.or);
  // Put on the prototype as a class method would be: not enumerable, so not an own data field.
  t.false(Object.keys(SharedAccess.prototype).includes('or32'));
  t.false(Object.hasOwn(DIRECT_ACCESS, 'or32'));
});

test('each access does its operation on shared memory and returns what Atomics returns', (t) => {
  const a = new Int32Array(new SharedArrayBuffer(16));
  const b = new Uint8Array(a.buffer);
  const m = DIRECT_ACCESS;
  t.is(m.or32(a, 1, 0b1010), 0);
  t.is(m.or32(a, 1, -1 << 31), 0b1010);
  t.is(a[1], (-1 << 31) | 0b1010);
  t.is(m.and32(a, 1, 0b1000), (-1 << 31) | 0b1010);
  t.is(a[1], 0b1000);
  t.is(m.exchange32(a, 1, 7), 0b1000);
  t.is(m.add32(a, 1, 5), 7);
  t.is(m.atomicLoad32(a, 1), 12);
  m.atomicStore32(a, 2, -3);
  t.is(m.load32(a, 2), -3);
  m.store32(a, 3, 99);
  t.is(a[3], 99);
  t.is(m.or8(b, 0, 0x81), 0);
  t.is(m.load8(b, 0), 0x81);
  m.store8(b, 1, 0x7f);
  t.is(a[0], 0x7f81);
  m.fill8(b, 0);
  t.deepEqual([...a], [0, 0, 0, 0]);
});

test('a subclass overrides an atomic access and reaches the Atomics function through super', (t) => {
  const seen: string[] = [];
  class Counting extends SharedAccess {
    override or32(a: Int32Array, i: number, v: number): number {
      seen.push(`or ${i} ${v}`);
      return super.or32(a, i, v);
    }
  }
  const a = new Int32Array(new SharedArrayBuffer(8));
  const c = new Counting();
  t.is(c.or32(a, 1, 4), 0);
  t.is(c.or32(a, 1, 1), 4);
  t.deepEqual(seen, ['or 1 4', 'or 1 1']);
  t.is(a[1], 5);
  t.is(DIRECT_ACCESS.or32(a, 1, 8), 5, 'the override stays on the subclass');
});

test('the data path makes no Atomics call of its own: every shared access goes through the layer', (t) => {
  for (const file of ['src/device/dirty-log.ts', 'src/bitmap/iova-bitmap.ts', 'src/coordinator/report-bitmap.ts', 'src/dma/engine.ts']) {
    const code = readFileSync(path.join(root, file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    t.notRegex(code, /\bAtomics\s*\./, file);
  }
});
