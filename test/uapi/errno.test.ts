import test from 'ava';
import { DmalogError, VfioError } from '../../src/errors.js';
import { ERRNO, isErrno, type Errno } from '../../src/uapi/errno.js';
import * as entry from '../../src/index.js';

// Linux asm-generic/errno-base.h and errno.h numbers: the table the simulator must return.
const LINUX: Array<[Errno, number]> = [
  ['ENOENT', 2],
  ['EIO', 5],
  ['E2BIG', 7],
  ['EBADF', 9],
  ['ENOMEM', 12],
  ['EFAULT', 14],
  ['ENODEV', 19],
  ['EINVAL', 22],
  ['ENOTTY', 25],
  ['EOVERFLOW', 75],
  ['EOPNOTSUPP', 95],
  ['ETIMEDOUT', 110],
];

test('the errno table is exactly the contract §4 set, plus EBADF for a closed fd, with Linux numbers', (t) => {
  t.deepEqual(Object.entries(ERRNO).sort((a, b) => a[1] - b[1]), LINUX);
});

for (const [name, code] of LINUX) {
  test(`VfioError ${name} carries errno '${name}' and code ${code}`, (t) => {
    const error = new VfioError(name, 'detail');
    t.is(error.errno, name);
    t.is(error.code, code);
    t.is(error.name, 'VfioError');
    t.true(error instanceof VfioError);
    t.true(error instanceof Error);
    t.true(isErrno(name));
  });
}

test('isErrno refuses names outside the table', (t) => {
  for (const v of ['EAGAIN', 'einval', '', 22, null, undefined, 'toString', '__proto__']) t.false(isErrno(v), String(v));
});

test('instanceof VfioError holds for an error from another copy of the class (Symbol.for brand)', (t) => {
  // A structurally branded object, as a second bundled copy of dmalog would produce.
  const foreign = Object.assign(new Error('x'), { [Symbol.for('dmalog.VfioError')]: true });
  t.true(foreign instanceof VfioError);
  t.false(new Error('x') instanceof VfioError);
  t.false(new DmalogError('DMALOG_CLOSED', 'closed') instanceof VfioError);
  t.false((null as unknown) instanceof VfioError);
  t.false(({ errno: 'EINVAL', code: 22 }) instanceof VfioError);
});

test('DmalogError keeps its code and is no VfioError', (t) => {
  const error = new DmalogError('DMALOG_CLOSED', 'host is closed');
  t.is(error.code, 'DMALOG_CLOSED');
  t.is(error.name, 'DmalogError');
  t.true(error instanceof DmalogError);
});

test('the package entry exports the same error classes and table', (t) => {
  t.is(entry.VfioError, VfioError);
  t.is(entry.ERRNO, ERRNO);
  t.is(entry.DmalogError, DmalogError);
});
