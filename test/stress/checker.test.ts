// The stress checker on hand-made bursts and report sets: what it must call lost, imprecise or
// fine, with no threads involved.
import test from 'ava';
import { StressChecker, type BurstSpec, type CheckerConfig, type PageRange } from '../../src/stress/checker.js';
import type { BurstResult } from '../../src/dma/types.js';
import { generatePages } from '../../src/workload/workload.js';

const PAGES = 64;
const ONE_WINDOW: PageRange[] = [{ from: 0, to: PAGES }];
const TWO_WINDOWS: PageRange[] = [{ from: 0, to: 32 }, { from: 32, to: 64 }];

function checker(granulePages = [1], windows = ONE_WINDOW): StressChecker {
  const config: CheckerConfig = { guestPages: PAGES, granulePages, windows };
  return new StressChecker(config);
}

function burst(tracker = 0, burstId = 0, count = 1): { spec: BurstSpec; pages: number[] } {
  const spec: BurstSpec = { tracker, workload: { kind: 'uniform', pageBase: 0, pageCount: PAGES, writer: tracker, writers: 2, stream: tracker }, seed: 7n, burstId, count };
  return { spec, pages: [...generatePages(spec.workload, spec.seed, burstId, count)] };
}

function result(c: number, g: number, attempted = 1, logged = attempted): BurstResult {
  return { attempted, logged, granules: [logged], setsCompletedAtStart: c, setsBegunAtEnd: g, stale: logged < attempted };
}

const report = (pages: number[], marked: PageRange[] = []) => ({ pages: Int32Array.from(pages), marked });

test('a written page reported by the next set is neither lost nor imprecise', (t) => {
  const k = checker();
  const { spec, pages } = burst();
  k.burstDone(k.dispatch(spec), result(0, 0));
  k.setDone(0, report(pages));
  t.like(k.finish(), { setsChecked: 1, burstsChecked: 1, lost: 0, imprecise: 0, markedOnly: 0 });
});

test('a written page missing from the first set that began after the write is lost, once per set', (t) => {
  const k = checker();
  const { spec, pages } = burst(0, 0, 1);
  const again = burst(0, 0, 1); // the same page written twice: still one lost page in set 0
  k.burstDone(k.dispatch(spec), result(0, 0));
  k.burstDone(k.dispatch(again.spec), result(0, 0));
  k.setDone(0, report([]));
  const totals = k.finish();
  t.is(totals.lost, 1);
  t.deepEqual(totals.lostExamples, [{ page: pages[0]!, set: 0, tracker: 0, stream: 0, burstId: 0 }]);
});

test('a write still running when a set began may show in that set or the next', (t) => {
  const k = checker();
  const { spec, pages } = burst();
  k.burstDone(k.dispatch(spec), result(0, 1)); // ended after set 0 began
  k.setDone(0, report([]));
  t.is(k.totals.lost, 0);
  k.setDone(1, report([]));
  t.is(k.finish().lost, 1);
  const late = checker();
  late.burstDone(late.dispatch(spec), result(0, 1));
  late.setDone(0, report([]));
  late.setDone(1, report(pages));
  t.like(late.finish(), { lost: 0, imprecise: 0 });
});

test('a reported page nothing wrote is imprecise unless a recovery marked it', (t) => {
  const k = checker();
  k.setDone(0, report([5, 6], [{ from: 6, to: 7 }]));
  t.like(k.finish(), { imprecise: 1, markedOnly: 1, impreciseExamples: [{ page: 5, set: 0 }] });
});

test('a page reported again after its write was reported is imprecise (a stale bit)', (t) => {
  const k = checker();
  const { spec, pages } = burst();
  k.burstDone(k.dispatch(spec), result(0, 0));
  k.setDone(0, report(pages));
  k.setDone(1, report(pages));
  t.like(k.finish(), { imprecise: 1, lost: 0 });
});

test('a page may not show in a set that completed before its burst began', (t) => {
  const k = checker();
  k.setDone(0, report([]));
  const { spec, pages } = burst();
  k.burstDone(k.dispatch(spec), result(1, 1));
  k.setDone(1, report(pages));
  t.like(k.finish(), { imprecise: 0, lost: 0 });
  const early = checker();
  const b = early.dispatch(spec);
  early.setDone(0, report(pages)); // dispatched before set 0 completed, but it read c = 1
  early.burstDone(b, result(1, 1));
  early.setDone(1, report([]));
  t.like(early.finish(), { imprecise: 1, lost: 1 });
});

test('a tracker granule of two pages explains both pages of the granule, nothing more', (t) => {
  const k = checker([2]);
  const { spec, pages } = burst();
  const p = pages[0]!;
  const buddy = p ^ 1;
  const outside = (p & ~1) + 2 < PAGES ? (p & ~1) + 2 : (p & ~1) - 1;
  k.burstDone(k.dispatch(spec), result(0, 0));
  k.setDone(0, report([p, buddy, outside].sort((a, b) => a - b)));
  t.like(k.finish(), { imprecise: 1, impreciseExamples: [{ page: outside, set: 0 }], lost: 0 });
});

test('with two windows a page is due in the first set at or after the write that covers it', (t) => {
  const k = checker([1], TWO_WINDOWS);
  const { spec, pages } = burst();
  const p = pages[0]!;
  const window = p < 32 ? 0 : 1;
  k.burstDone(k.dispatch(spec), result(0, 0));
  k.setDone(0, report([]));
  k.setDone(1, report([]));
  t.is(k.finish().lost, 1);
  t.is(k.totals.lostExamples[0]!.set, window);
});

test('a set is checked only once every burst dispatched before it has finished', (t) => {
  const k = checker();
  const { spec, pages } = burst();
  const id = k.dispatch(spec);
  k.setDone(0, report([]));
  t.is(k.totals.setsChecked, 0);
  k.burstDone(id, result(0, 1));
  k.setDone(1, report(pages));
  t.like(k.finish(), { setsChecked: 2, lost: 0, imprecise: 0 });
});

test('a write the engine could not count as logged (its log stopped) is not required', (t) => {
  const { spec, pages } = burst(0, 3, 2);
  t.not(pages[0], pages[1]);
  const k = checker();
  k.burstDone(k.dispatch(spec), result(0, 0, 2, 1));
  k.setDone(0, report([pages[0]!]));
  t.like(k.finish(), { lost: 0, imprecise: 0 });
  const missing = checker();
  missing.burstDone(missing.dispatch(spec), result(0, 0, 2, 1));
  missing.setDone(0, report([pages[1]!])); // precise (it was written) but the logged one is lost
  t.like(missing.finish(), { lost: 1, imprecise: 0 });
});

test('a ring burst cut short is checked against what it wrote: the prefix of its full-count burst', (t) => {
  // Ring burst k starts at k × count, so 3 writes of an 8-write burst 1 are not a 3-write burst 1.
  const spec: BurstSpec = { tracker: 0, workload: { kind: 'ring', pageBase: 0, pageCount: PAGES, writer: 0, writers: 1, stream: 0 }, seed: 7n, burstId: 1, count: 8 };
  const wrote = [...generatePages(spec.workload, spec.seed, spec.burstId, spec.count)].slice(0, 3);
  const shorter = [...generatePages(spec.workload, spec.seed, spec.burstId, 3)];
  t.false(wrote.some((p) => shorter.includes(p)), 'the two readings disagree on every page');
  const k = checker();
  k.burstDone(k.dispatch(spec), result(0, 0, 3));
  k.setDone(0, report([...wrote].sort((a, b) => a - b)));
  t.like(k.finish(), { lost: 0, imprecise: 0 });
  // and a real loss among the pages it wrote is still found
  const missing = checker();
  missing.burstDone(missing.dispatch(spec), result(0, 0, 3));
  missing.setDone(0, report(wrote.slice(1).sort((a, b) => a - b)));
  t.like(missing.finish(), { lost: 1, imprecise: 0, lostExamples: [{ page: wrote[0]!, set: 0 }] });
});

/**
 * `sets` report sets over two windows, four 4-write bursts per set (c = g = s), each set
 * reporting exactly the pages due in it except those of `drop` in set `drop.set`.
 */
function longRun(sets: number, drop?: { set: number; page: number }): { k: StressChecker; maxRetained: number } {
  const k = checker([1], TWO_WINDOWS);
  const windowOf = (p: number) => (p < 32 ? 0 : 1);
  let previous: number[] = [];
  let maxRetained = 0;
  for (let s = 0; s < sets; s++) {
    const current: number[] = [];
    for (let q = 0; q < 4; q++) {
      const spec: BurstSpec = { tracker: 0, workload: { kind: 'uniform', pageBase: 0, pageCount: PAGES, writer: 0, writers: 1, stream: q }, seed: 7n, burstId: s, count: 4 };
      const id = k.dispatch(spec);
      maxRetained = Math.max(maxRetained, k.retainedBursts);
      k.burstDone(id, result(s, s, 4));
      current.push(...generatePages(spec.workload, spec.seed, s, 4));
    }
    // A write at set s is due in the first set ≥ s covering its window: s or s + 1.
    const due = new Set([...previous, ...current].filter((p) => windowOf(p) === s % 2 && !(drop && drop.set === s && drop.page === p)));
    k.setDone(s, report([...due].sort((a, b) => a - b)));
    maxRetained = Math.max(maxRetained, k.retainedBursts);
    previous = current;
  }
  return { k, maxRetained };
}

test('the checker retires bursts it is done with: what it holds stays bounded over many sets', (t) => {
  const { k, maxRetained } = longRun(2000);
  t.like(k.finish(), { setsChecked: 2000, lost: 0, imprecise: 0 });
  t.is(k.dispatched, 8000);
  // Bursts of the last two sets (their window may come next) plus the one running.
  t.true(maxRetained <= 4 * 2 + 1, `${maxRetained} bursts held`);
  t.true(k.retainedBursts <= 4 * 2);
  t.is(k.totals.burstsChecked, 8000 - 4); // the last set's bursts still await their other window
});

test('retiring bursts does not hide a loss: a page missing long into a run is still lost', (t) => {
  const victim = generatePages({ kind: 'uniform', pageBase: 0, pageCount: PAGES, writer: 0, writers: 1, stream: 0 }, 7n, 1500, 1)[0]!;
  const set = 1500 + ((victim < 32 ? 0 : 1) - 1500 % 2 + 2) % 2; // the first set from 1500 covering it
  const { k } = longRun(2000, { set, page: victim });
  t.like(k.finish(), { lost: 1, imprecise: 0, lostExamples: [{ page: victim, set }] });
});

// ---- a HWPT log beside the devices' own: its 2 MiB IOPTEs -------------------------------------

test('a page of a 2 MiB IOPTE reported after an attached tracker wrote elsewhere in it is explained; without the huge mapping, or by an unattached tracker, it is imprecise', (t) => {
  const guestPages = 2048;
  const windows = [{ from: 0, to: 1024 }, { from: 1024, to: 2048 }];
  const spec = (tracker: number): BurstSpec => ({ tracker, workload: { kind: 'uniform', pageBase: 0, pageCount: 512, writer: 0, writers: 1, stream: 0 }, seed: 3n, burstId: 0, count: 1 });
  const written = generatePages(spec(0).workload, 3n, 0, 1)[0]!;
  const neighbour = written === 0 ? 1 : 0; // same 2 MiB block [0, 512), another page
  const run = (config: CheckerConfig, tracker: number) => {
    const k = new StressChecker(config);
    k.burstDone(k.dispatch(spec(tracker)), result(0, 0));
    k.setDone(0, report([written, neighbour].sort((a, b) => a - b)));
    return k.finish();
  };
  const base = { guestPages, granulePages: [1, 1], windows };
  t.like(run({ ...base, iommu: { attached: [true, false], huge: [{ from: 0, to: 512 }] } }, 0), { lost: 0, imprecise: 0 });
  t.like(run(base, 0), { lost: 0, imprecise: 1 });
  t.like(run({ ...base, iommu: { attached: [true, false], huge: [{ from: 0, to: 512 }] } }, 1), { lost: 0, imprecise: 1 });
  t.like(run({ ...base, iommu: { attached: [true, true], huge: [{ from: 512, to: 1024 }] } }, 0), { lost: 0, imprecise: 1 }, 'a huge block elsewhere explains nothing here');
});

test('the explanation of a 2 MiB IOPTE write ends with the first set covering its window, as a page\'s does', (t) => {
  const guestPages = 2048;
  const windows = [{ from: 0, to: 1024 }, { from: 1024, to: 2048 }];
  const k = new StressChecker({ guestPages, granulePages: [1], windows, iommu: { attached: [true], huge: [{ from: 0, to: 1024 }] } });
  const spec: BurstSpec = { tracker: 0, workload: { kind: 'uniform', pageBase: 0, pageCount: 512, writer: 0, writers: 1, stream: 0 }, seed: 3n, burstId: 0, count: 1 };
  const written = generatePages(spec.workload, 3n, 0, 1)[0]!;
  const neighbour = written === 0 ? 1 : 0;
  k.burstDone(k.dispatch(spec), result(0, 0));
  k.setDone(0, report([neighbour, written].sort((a, b) => a - b))); // window 0: read and cleared
  k.setDone(1, report([])); // window 1
  k.setDone(2, report([neighbour])); // window 0 again: nothing wrote since
  t.like(k.finish(), { lost: 0, imprecise: 1 });
});

test('huge mappings must be whole 2 MiB blocks inside one window', (t) => {
  const windows = [{ from: 0, to: 768 }, { from: 768, to: 1536 }];
  t.throws(() => new StressChecker({ guestPages: 1536, granulePages: [1], windows, iommu: { attached: [true], huge: [{ from: 512, to: 1024 }] } }), { message: /inside one window/ });
  t.throws(() => new StressChecker({ guestPages: 1536, granulePages: [1], windows, iommu: { attached: [true], huge: [{ from: 0, to: 256 }] } }), { message: /whole 2 MiB blocks/ });
});
