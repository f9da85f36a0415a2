// Micro: the cost of projecting one dirty log word into the user bitmap, per projection kind
// (GranuleProjection.setGranules), against a bare Atomics.or of the word into the bitmap.
import { IovaBitmap } from '../../../src/bitmap/iova-bitmap.js';
import { fmtRate, get, medians, type Row, type Scenario, type ScenarioOptions } from '../../harness.js';

const WORDS = 1 << 14; // 512 Ki granules per pass
const MASK = 0x5a5a5a5a | 0; // 16 granules of 32 per word

interface Kind { label: string; granule: bigint; page: bigint; iovaOffset: bigint }

const KINDS: Kind[] = [
  { label: 'T = P, granule-aligned window (one mask per word)', granule: 4096n, page: 4096n, iovaOffset: 0n },
  { label: 'T = P, window 2 KiB off (two bits per granule)', granule: 4096n, page: 4096n, iovaOffset: 2048n },
  { label: 'T < P: 4 KiB → 2 MiB (coalesce)', granule: 4096n, page: 2n << 20n, iovaOffset: 0n },
  { label: 'T > P: 64 KiB → 4 KiB (16 bits per granule)', granule: 65536n, page: 4096n, iovaOffset: 0n },
];

export const scenario: Scenario = {
  name: 'micro/bitmap',
  title: 'micro: projecting one log word into the bitmap, per projection kind',
  async run(options: ScenarioOptions) {
    const bareMemory = new SharedArrayBuffer(WORDS * 4);
    const bare = new Int32Array(bareMemory);
    const tasks = [{ name: 'bare', fn: () => { for (let w = 0; w < WORDS; w++) Atomics.or(bare, w, MASK); } }];
    const kinds = KINDS.filter((k) => options.wants(k.label));
    for (const k of kinds) {
      const granules = BigInt(WORDS * 32);
      const length = granules * k.granule;
      const window = { iova: k.iovaOffset, length, pageSize: k.page };
      const memory = new SharedArrayBuffer(Math.ceil(Number(length / k.page) / 64) * 8 + 16);
      tasks.push({
        name: k.label,
        fn: () => {
          const bitmap = new IovaBitmap(memory, 0, window);
          const projection = bitmap.project(k.granule, 0n, 0);
          for (let w = 0; w < WORDS; w++) projection.setGranules(w << 5, MASK);
          bitmap.flush();
        },
      });
    }
    const m = await medians(tasks, { timeMs: options.quick ? 50 : 150, iterations: 5, rounds: options.quick ? 1 : 3 });
    const perWord = (name: string) => WORDS / (get(m, name) / 1000);
    const rows: Row[] = kinds.map((k) => ({
      case: k.label, measured: fmtRate(perWord(k.label), ' words/s'), baseline: 'bare Atomics.or per word',
      baselineMeasured: fmtRate(perWord('bare'), ' words/s'), ratio: perWord(k.label) / perWord('bare'), kind: 'speed' as const,
    }));
    const notes = [
      'each log word has 16 of its 32 granules dirty; the baseline ORs one bitmap word per log word.',
      'bitmap words written per log word: 1 (T = P aligned), 2 (T = P straddling), 1/16 (4 KiB → 2 MiB), 16 (64 KiB → 4 KiB): the T > P row is bound by its 16 atomic ORs.',
    ];
    return { name: this.name, title: this.title, rows, notes };
  },
};
