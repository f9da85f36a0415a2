import test from 'ava';
import fc from 'fast-check';
import { linearTicks } from '../../src/report/ticks.js';

test('ticks of 0..0.6 are labelled to their precision, not as float sums', (t) => {
  const { values, labels, max } = linearTicks(0.6, 5);
  t.is(max, 0.6);
  t.deepEqual(labels, ['0.0', '0.1', '0.2', '0.3', '0.4', '0.5', '0.6']);
  t.is(values.length, labels.length);
});

test('the axis widens to the next round value and labels big numbers with grouping', (t) => {
  const { max, labels } = linearTicks(49_456, 5);
  t.is(max, 50_000);
  t.deepEqual(labels, ['0', '10,000', '20,000', '30,000', '40,000', '50,000']);
});

test('integer ticks: a count of pages has no fractional tick, and an empty series still gets an axis', (t) => {
  t.deepEqual(linearTicks(3, 5, true).labels, ['0', '1', '2', '3']);
  t.deepEqual(linearTicks(0, 5, true).labels, ['0', '1']);
  t.deepEqual(linearTicks(0, 5).labels.at(-1), '1.0');
  t.deepEqual(linearTicks(Number.NaN, 5).values.at(-1), 1);
});

test('for any maximum: ticks start at 0, rise evenly, reach the maximum, and labels are short', (t) => {
  fc.assert(fc.property(fc.double({ min: 1e-6, max: 1e12, noNaN: true }), fc.boolean(), (dataMax, integer) => {
    const { max, values, labels } = linearTicks(dataMax, 5, integer);
    if (values[0] !== 0 || max < dataMax || values.at(-1) !== max && !integer) return false;
    const steps = values.slice(1).map((v, i) => v - values[i]!);
    if (steps.some((s) => Math.abs(s - steps[0]!) > steps[0]! * 1e-9)) return false;
    if (values.length < 2 || values.length > 12) return false;
    if (integer && values.some((v) => !Number.isInteger(v))) return false;
    // Each label reads back as its tick (to within a millionth of a step), distinct and short.
    if (new Set(labels).size !== labels.length) return false;
    return labels.every((l, i) => l.length <= 17 && !/e/.test(l) && Math.abs(Number(l.replace(/,/g, '')) - values[i]!) <= steps[0]! * 1e-6);
  }));
  t.pass();
});
