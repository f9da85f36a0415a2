// fast-check arbitraries for ABI calls: the generator of generate.ts fed by fast-check's draws,
// so property tests shrink a failing call toward ordinary values (index 0 of each table, small
// integers). fast-check is a development dependency: only tests import this file.
import fc from 'fast-check';
import { U64_MAX } from '../uapi/abi.js';
import type { FuzzCall } from './call.js';
import type { Draw } from './draw.js';
import { generateCall, type GenContext } from './generate.js';

function fcDraw(g: fc.GeneratorValue): Draw {
  return {
    int: (lo, hi) => g(fc.integer, { min: lo, max: hi }),
    u64: () => g(fc.bigInt, { min: 0n, max: U64_MAX }),
    unit: () => g(fc.double, { min: 0, max: 1, maxExcluded: true, noNaN: true }),
  };
}

/** Any fuzzed call for a lane in context `ctx`. */
export function fuzzCallArbitrary(ctx: GenContext): fc.Arbitrary<FuzzCall> {
  return fc.gen().map((g) => generateCall(fcDraw(g), ctx));
}

/** Draws for the lane's own steps (DMA, state changes) inside a property. */
export function drawArbitrary(): fc.Arbitrary<Draw> {
  return fc.gen().map(fcDraw);
}
