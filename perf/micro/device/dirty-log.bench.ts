// Micro: the ways a DMA engine can log a page write into a DirtyLog, in one thread, against a
// bare Atomics.or of the same granule bits.
import { DirtyLog, planLog } from '../../../src/device/dirty-log.js';
import { ok } from '../../../src/util/result.js';
import { fmtRate, get, medians, type Row, type Scenario, type ScenarioOptions } from '../../harness.js';

const PAGE = 4096;
const BASE = 2 ** 32;
const GRANULES = 1 << 20;
const WRITES = 1 << 16;

export const scenario: Scenario = {
  name: 'micro/device',
  title: 'micro: logging one page write, per DirtyLog entry point (one thread)',
  async run(options: ScenarioOptions) {
    const planned = ok(planLog(BigInt(PAGE), [{ iova: BigInt(BASE), length: BigInt(GRANULES * PAGE) }], 1 << 30), 'planLog');
    const log = new DirtyLog(planned);
    const words = new Int32Array(planned.buffer, 0, planned.logWords);
    const granules = new Int32Array(WRITES);
    let x = 12345;
    for (let i = 0; i < WRITES; i++) granules[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % GRANULES;
    const iovas = Float64Array.from(granules, (g) => BASE + g * PAGE);
    const bigIovas = BigUint64Array.from(granules, (g) => BigInt(BASE + g * PAGE));
    const tasks = [
      { name: 'bare', fn: () => { for (let i = 0; i < WRITES; i++) { const g = granules[i]!; Atomics.or(words, g >>> 5, 1 << (g & 31)); } } },
      { name: 'markBits(granule, 1)', fn: () => { for (let i = 0; i < WRITES; i++) log.markBits(granules[i]!, 1); } },
      { name: 'markWriteNumber(iova, 4096)', fn: () => { for (let i = 0; i < WRITES; i++) log.markWriteNumber(iovas[i]!, PAGE); } },
      { name: 'markWrite(iova, 4096n)', fn: () => { for (let i = 0; i < WRITES; i++) log.markWrite(bigIovas[i]!, 4096n); } },
    ].filter((t) => t.name === 'bare' || options.wants(t.name));
    const m = await medians(tasks, { timeMs: options.quick ? 50 : 150, iterations: 5, rounds: options.quick ? 1 : 3 });
    const rate = (name: string) => WRITES / (get(m, name) / 1000);
    const rows: Row[] = tasks.filter((t) => t.name !== 'bare').map((t) => ({
      case: t.name, measured: fmtRate(rate(t.name), ' writes/s'), baseline: 'bare Atomics.or of the granule bit',
      baselineMeasured: fmtRate(rate('bare'), ' writes/s'), ratio: rate(t.name) / rate('bare'), kind: 'speed' as const,
    }));
    return { name: this.name, title: this.title, rows, notes: ['granule indexes precomputed for markBits and bare; IOVAs for the markWrite entry points.'] };
  },
};
