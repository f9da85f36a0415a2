// Micro: reading a sparse report set over a 1 TiB window (8 Mi bitmap words, 1000 of them dirty)
// and leaving the bitmap zeroed for the next set: ReportBitmap.drain (a word at a time, zeroing
// only the words read) against consume (bit by bit) followed by zero (the whole 32 MiB).
import { ReportBitmap } from '../../../src/coordinator/report-bitmap.js';
import { fmtMs, get, medians, type Row, type Scenario, type ScenarioOptions } from '../../harness.js';

const PAGE = 4096n;
const DIRTY_WORDS = 1000;

export const scenario: Scenario = {
  name: 'micro/report-bitmap',
  title: 'micro: draining a sparse report set over a 1 TiB window vs consume + zero',
  async run(options: ScenarioOptions) {
    const tib = options.quick ? 1n << 36n : 1n << 40n;
    const window = { iova: 0n, length: tib, pageSize: PAGE };
    const words = Number(tib / PAGE / 32n);
    const bytes = words * 4;
    const memory = new SharedArrayBuffer(bytes);
    const view = new Int32Array(memory);
    const bitmap = new ReportBitmap(memory, 0, bytes);
    const collect = () => {
      bitmap.begin(window, false);
      for (let i = 0; i < DIRTY_WORDS; i++) view[(i * 7919) % words] = 1 << (i & 31);
      bitmap.complete();
    };
    let seen = 0;
    const results = await medians([
      { name: 'drain', fn: () => { collect(); seen += bitmap.drain((_w, bits) => { seen ^= bits; }); } },
      { name: 'consume + zero', fn: () => { collect(); seen += bitmap.consume((bit) => { seen ^= bit; }); bitmap.zero(); } },
    ], { iterations: 8, timeMs: 200 });
    if (seen === 0.5) throw new Error('unreachable: keeps the visits alive');
    const drain = get(results, 'drain');
    const old = get(results, 'consume + zero');
    const rows: Row[] = [{
      case: `drain, ${words / 2 ** 20} Mi words, ${DIRTY_WORDS} dirty`, measured: fmtMs(drain), baseline: 'consume + zero of the whole bitmap',
      baselineMeasured: fmtMs(old), ratio: drain / old, kind: 'time',
    }];
    return { name: this.name, title: this.title, rows, notes: ['each iteration also writes the 1000 dirty words of the next set (the same in both tasks).'] };
  },
};
