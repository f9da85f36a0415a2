// The guest being migrated: its RAM (guest-memory.ts: bytes or page versions, laid out by the
// memory map) and the writers that dirty it, vCPUs and devices, each with a seeded workload.
// Writes run on the DMA engine threads (src/dma) in one burst per writer and RAM section per
// stretch of simulated time; each write stores data (or bumps the page's version) first and then
// marks the log its writer is tracked by (vCPUs: the CPU log, devices: their own device log, or
// nothing when the device is not logging).
//
// What a stretch writes is a pure function of the seed, the burst index and the stretch's length:
// the pages come from the workload's generator, the counts from rate × length with the fraction
// carried over. Which thread runs which burst, and in which order, changes nothing a sync can see
// (log bits are ORed, versions added).
import type { DmaPool } from '../dma/pool.js';
import type { BurstControl, BurstTask, LogTarget } from '../dma/types.js';
import { generatePages, type WorkloadSpec } from '../workload/workload.js';
import type { GuestMemory } from './guest-memory.js';
import type { MemoryMap, MemorySection } from './memory-map.js';
import type { WorkloadOptions } from './options.js';

export interface WriterSpec {
  name: string;
  kind: 'vcpu' | 'device';
  workload: WorkloadOptions;
}

interface Lane {
  writer: number;
  section: MemorySection;
  workload: WorkloadSpec;
  /** Pages per simulated second this lane gets of its writer's rate. */
  rate: number;
  /** Fractional pages carried into the next stretch. */
  carry: number;
  /** Pages the lane's bursts wrote so far: where its next ring burst continues. */
  written: number;
}

/** The logs a writer marks now; `control` lets its bursts notice a log being stopped. */
export interface WriteTarget {
  logs: readonly LogTarget[];
  control?: BurstControl;
}

export interface BurstWrites {
  /** Pages each writer wrote in these bursts (by writer index). */
  pages: number[];
  /**
   * RAM pages written but maybe not logged: a burst that saw its log stop (a restart) ends at
   * the write whose mark may have landed after the STOP. The caller marks these dirty itself.
   */
  unlogged: number[];
}

export class Guest {
  readonly map: MemoryMap;
  readonly memory: GuestMemory;
  readonly writers: readonly WriterSpec[];
  readonly #lanes: Lane[] = [];
  readonly #seed: bigint;

  constructor(map: MemoryMap, memory: GuestMemory, writers: WriterSpec[], seed: bigint) {
    this.map = map;
    this.memory = memory;
    this.writers = writers;
    this.#seed = seed;
    // A writer's traffic is spread over the RAM sections in proportion to their size; each
    // (writer, section) pair is one stream of the writer's workload over that section's pages.
    writers.forEach((w, writer) => {
      map.ram.forEach((section, s) => {
        const pageCount = Number(section.length) / map.pageSize;
        this.#lanes.push({
          writer,
          section,
          rate: w.workload.rate * (pageCount / map.addressablePages),
          carry: 0,
          written: 0,
          workload: {
            kind: w.workload.kind,
            pageBase: section.offset / map.pageSize,
            pageCount,
            writer,
            writers: writers.length,
            stream: writer * map.ram.length + s,
            hotFraction: w.workload.hotFraction,
            hotProbability: w.workload.hotProbability,
          },
        });
      });
    });
  }

  /**
   * Start `seconds` of simulated writes on the pool, as burst `burst` of every writer's streams.
   * `targetOf(writer)` is what the writer marks now (null: nothing, its writes go unlogged);
   * `speedOf(writer)` scales its rate (vCPU throttling). Resolves once every burst has finished.
   */
  async runBursts(pool: DmaPool, burst: number, seconds: number, targetOf: (writer: number) => WriteTarget | null, speedOf: (writer: number) => number): Promise<BurstWrites> {
    const out: BurstWrites = { pages: this.writers.map(() => 0), unlogged: [] };
    const runs: Array<Promise<void>> = [];
    for (const lane of this.#lanes) {
      const want = lane.rate * seconds * speedOf(lane.writer) + lane.carry;
      const count = Math.floor(want);
      lane.carry = want - count;
      if (count === 0) continue;
      const target = targetOf(lane.writer);
      const task: BurstTask = {
        guest: this.memory.source,
        layout: this.memory.mode,
        // Page p of RAM (offset p·P) sits at IOVA section.iova + (p·P − section.offset).
        guestIova: lane.section.iova - BigInt(lane.section.offset),
        pageBytes: this.map.pageSize,
        logs: target?.logs ?? [],
        control: target?.control,
        workload: lane.workload,
        seed: this.#seed,
        burstId: burst,
        ringAt: lane.written,
        count,
      };
      const ringAt = lane.written;
      lane.written += count;
      runs.push(pool.run(task).then((r) => {
        out.pages[lane.writer]! += r.attempted;
        // The burst's pages are a pure function of its task: recompute the one left in doubt.
        // (A burst stale before its first write wrote nothing: nothing is in doubt.)
        if (r.stale && r.attempted > 0) out.unlogged.push(generatePages(lane.workload, this.#seed, burst, count, undefined, ringAt)[r.attempted - 1]!);
      }));
    }
    await Promise.all(runs);
    return out;
  }
}
