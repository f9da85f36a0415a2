// fast-check arbitraries for ABI calls. fast-check generates and shrinks a sequence of choices
// (u32 words) and the generator of generate.ts reads its draws from it, so a failing call
// shrinks toward ordinary values: a word shrinks toward 0, and a draw of 0 is the low end of its
// range, the first entry of a table. One array per call keeps this cheap (fc.gen's per-draw
// arbitraries cost ~2 ms a call). fast-check is a development dependency: only tests import this.
import fc from 'fast-check';
import type { FuzzCall } from './call.js';
import type { Draw } from './draw.js';
import { generateCall, type GenContext } from './generate.js';

/** Enough words for the largest call (raw bytes take one word per 4); past the end they repeat. */
const CHOICE_WORDS = 256;
const TWO_POW_32 = 0x1_0000_0000;

/** A choice sequence to feed `choiceDraw`. */
export function choiceArbitrary(): fc.Arbitrary<number[]> {
  return fc.array(fc.nat({ max: 0xffffffff }), { minLength: CHOICE_WORDS, maxLength: CHOICE_WORDS });
}

/** A Draw reading `words` in order: a fresh one per property run. */
export function choiceDraw(words: readonly number[]): Draw {
  let i = 0;
  const next = (): number => words[i++ % words.length]!;
  const int = (lo: number, hi: number): number => {
    const span = hi - lo + 1;
    if (span <= TWO_POW_32) return lo + (next() % span);
    return lo + ((next() * TWO_POW_32 + next()) % span);
  };
  return {
    int,
    u64: () => (BigInt(next()) << 32n) | BigInt(next()),
    unit: () => next() / TWO_POW_32,
  };
}

/** Any fuzzed call for a lane in context `ctx`. */
export function fuzzCallArbitrary(ctx: GenContext): fc.Arbitrary<FuzzCall> {
  return choiceArbitrary().map((words) => generateCall(choiceDraw(words), ctx));
}
