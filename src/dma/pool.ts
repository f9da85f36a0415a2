// The DMA engines: a piscina pool running bursts (engine.ts) on as many threads as the machine
// has cores. Stateless by design: any thread may run any queue's next burst.
import os from 'node:os';
import { Piscina } from 'piscina';
import { z } from 'zod';
import { DmalogError } from '../errors.js';
import { parseOptions } from '../util/options.js';
import { workerExecArgv } from '../util/worker-exec-argv.js';
import type { BurstResult, BurstTask } from './types.js';
import { recordThreadRole } from '../profile/threads.js';

const DMA_ENTRY = new URL('../../workers/dma.js', import.meta.url);

/**
 * The most DMA engine threads a pool (a stress run, a migration's writers) may have: 32, already
 * 16 per core on a 2-core machine. Past it a run degrades faster than the thread count: with 64
 * trackers, a 5 s stress took 8 s at 32 threads, 47 s at 48, and did not finish in 200 s at 64
 * (7 GiB resident), the main thread starved between its STARTs and the first report set.
 */
export const MAX_DMA_THREADS = 32;
/** How many DMA engine threads: 1 .. MAX_DMA_THREADS (one rule for the pool and every run that sizes one). */
export const dmaThreadsSchema = z.number().int().min(1).max(MAX_DMA_THREADS);
/** Node runs a longer timer after 1 ms. */
const MAX_IDLE_TIMEOUT_MS = 2 ** 31 - 1;

const poolSchema = z.strictObject({
  threads: dmaThreadsSchema.optional(),
  idleTimeoutMs: z.number().int().min(0).max(MAX_IDLE_TIMEOUT_MS).default(2000),
});

export interface DmaPoolOptions {
  /** Threads, 1 .. 256 (default: os.availableParallelism(), at most 256). */
  threads?: number;
  /** How long an idle thread above minThreads lives (default 2 s). */
  idleTimeoutMs?: number;
}

/** DMA engines on a piscina pool of threads: each burst writes real data, then marks the device logs. */
export class DmaPool {
  readonly #pool: Piscina<BurstTask, BurstResult>;
  #closed: Promise<void> | null = null;

  constructor(options: DmaPoolOptions = {}) {
    const o = parseOptions(poolSchema, options);
    const threads = o.threads ?? Math.min(os.availableParallelism(), MAX_DMA_THREADS);
    const idleTimeout = o.idleTimeoutMs;
    this.#pool = new Piscina({ filename: DMA_ENTRY.href, minThreads: threads, maxThreads: threads, idleTimeout, name: 'default', execArgv: workerExecArgv() });
    // For `dmalog profile`: each pool thread's profile is named dma-pool-N (a no-op otherwise).
    this.#pool.on('workerCreate', (worker: { id: number }) => recordThreadRole(worker.id, 'dma-pool'));
  }

  get threads(): number {
    return this.#pool.maxThreads;
  }

  /** Run one burst on a pool thread; rejects once the pool is closed. */
  run(task: BurstTask): Promise<BurstResult> {
    if (this.#closed) return Promise.reject(new DmalogError('DMALOG_CLOSED', 'DMA pool is closed'));
    return this.#pool.run(task);
  }

  /** Finish queued bursts, then end the threads; idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#pool.close();
    return this.#closed;
  }
}
