// The actors of a scenario: each op runs dmalog's own code on the explore classes (memory.ts).
// A write is the DMA engine's runBurst for one page (store the data, then mark the log); a REPORT
// is the device's read-and-clear into the set's bitmap (DirtyLog.readAndClear through
// IovaBitmap); zeroing is ReportBitmap.zero; recovery marks are the coordinator's markOwed. The
// glue between ops (which log generation is current, what is owed) is the scenario's, kept
// small and free of shared accesses but those it states.
import { markOwed } from '../coordinator/coordinator.js';
import { normalize, subtract } from '../coordinator/range-set.js';
import { runBurst, type EngineAccess } from '../dma/engine.js';
import type { BurstTask } from '../dma/types.js';
import type { LoggingRange } from '../uapi/structs.js';
import type { ActorBody, ActorContext } from './execution.js';
import { EXPLORE_ACCESS, ExploreDirtyLog, ExploreIovaBitmap, ExploreReportBitmap } from './memory.js';
import type { Op } from './scenario.js';
import type { World } from './world.js';

export function actorBodies(world: World): ActorBody[] {
  return world.scenario.actors.map((actor) => (ctx: ActorContext) => {
    // Coordinator state of this run (owed ranges, generations it moved on): rebuilt on every run.
    const trackers = world.scenario.trackers;
    const coordinator = { owed: Array.from({ length: trackers }, (): LoggingRange[] => []), gens: Array.from({ length: trackers }, () => 0) };
    actor.ops.forEach((op, j) => {
      ctx.waitFor(op.after);
      ctx.begin(j);
      const marked = runOp(world, op, coordinator);
      ctx.end(j, marked);
    });
  });
}

interface CoordinatorState { owed: LoggingRange[][]; gens: number[] }

/** Tracker t's current log generation, as the device knows it (a shared cell when trackers restart). */
function currentGen(world: World, t: number): number {
  return world.generations ? EXPLORE_ACCESS.atomicLoad32(new Int32Array(world.cells), world.genSlot(t)) : 0;
}

function runOp(world: World, op: Op, c: CoordinatorState): number[] | undefined {
  const s = world.scenario;
  switch (op.do) {
    case 'write': {
      const engine: EngineAccess = { memory: EXPLORE_ACCESS, dirtyLog: (d) => new ExploreDirtyLog(d, s.variant) };
      for (;;) {
        const gen = currentGen(world, op.tracker);
        const task: BurstTask = {
          guest: world.guest,
          guestIova: 0n,
          pageBytes: world.pageBytes,
          logs: [world.generations
            ? { kind: 'log', log: world.logs[op.tracker]![gen]!, gen: { slot: world.genSlot(op.tracker), value: gen } }
            : { kind: 'log', log: world.logs[op.tracker]![gen]! }],
          workload: { kind: 'uniform', pageBase: op.page, pageCount: 1, writer: 0, writers: 1, stream: op.tracker },
          seed: 0,
          burstId: 0,
          count: 1,
          ...(world.generations ? { control: { cells: world.cells } } : {}),
        };
        // A mark that raced a restart landed in a log nobody reads: the device writes again.
        if (!runBurst(task, engine).stale) return undefined;
      }
    }
    case 'report': {
      const set = world.sets[op.set]!;
      const log = new ExploreDirtyLog(world.logs[op.tracker]![currentGen(world, op.tracker)]!, s.variant);
      const bitmap = new ExploreIovaBitmap(world.user, set.at, set.window, s.contract);
      log.readAndClear(set.window.iova, set.window.length, bitmap, op.fail);
      return undefined;
    }
    case 'zero': {
      const set = world.sets[op.set]!;
      new ExploreReportBitmap(world.user, set.at, set.bytes).zero();
      return undefined;
    }
    case 'restart': {
      // STOP bumps the generation before the log stops (types.ts, LogTarget); START begins the next log.
      c.gens[op.tracker]!++;
      EXPLORE_ACCESS.atomicStore32(new Int32Array(world.cells), world.genSlot(op.tracker), c.gens[op.tracker]!);
      c.owed[op.tracker] = normalize([{ iova: 0n, length: BigInt(s.pages * s.pageSize) }]);
      return undefined;
    }
    case 'mark': {
      const set = world.sets[op.set]!;
      const window = { iova: set.window.iova, length: set.window.length };
      // The coordinator marks with the atomic OR whatever the trackers' contract (coordinator.ts).
      const marker = new ExploreIovaBitmap(world.user, set.at, set.window);
      const pages: number[] = [];
      c.owed.forEach((owed, t) => {
        if (owed.length === 0) return;
        for (const r of markOwed(marker, owed, window)) {
          const P = BigInt(s.pageSize);
          for (let p = r.iova / P; p < (r.iova + r.length + P - 1n) / P; p++) pages.push(Number(p));
        }
        c.owed[t] = subtract(owed, window);
      });
      marker.flush();
      return pages;
    }
  }
}
