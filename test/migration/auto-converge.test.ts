import test from 'ava';
import { AutoConverge } from '../../src/migration/auto-converge.js';

test('every second sync that dirtied more than half of what was sent steps the throttle: 20, 30, ... 99', (t) => {
  const ac = new AutoConverge(true);
  const steps: number[] = [];
  for (let i = 0; i < 20; i++) {
    ac.afterSync(51, 100);
    steps.push(ac.throttlePct);
  }
  t.deepEqual(steps, [0, 20, 20, 30, 30, 40, 40, 50, 50, 60, 60, 70, 70, 80, 80, 90, 90, 99, 99, 99]);
  t.is(Math.round(ac.vcpuSpeed * 100), 1);
});

test('a low dirty rate does not count, and off means never', (t) => {
  const ac = new AutoConverge(true);
  for (let i = 0; i < 5; i++) t.false(ac.afterSync(50, 100));
  t.is(ac.throttlePct, 0);
  const off = new AutoConverge(false);
  for (let i = 0; i < 5; i++) off.afterSync(1000, 1);
  t.is(off.throttlePct, 0);
  t.is(off.vcpuSpeed, 1);
});
