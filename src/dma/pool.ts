// The DMA engines: a piscina pool running bursts (engine.ts) on as many threads as the machine
// has cores. Stateless by design: any thread may run any queue's next burst.
import os from 'node:os';
import { Piscina } from 'piscina';
import { DmalogError } from '../errors.js';
import { workerExecArgv } from '../util/worker-exec-argv.js';
import type { BurstResult, BurstTask } from './types.js';

const DMA_ENTRY = new URL('../../workers/dma.js', import.meta.url);

export interface DmaPoolOptions {
  /** Threads (default: os.availableParallelism()). */
  threads?: number;
  /** How long an idle thread above minThreads lives (default 2 s). */
  idleTimeoutMs?: number;
}

export class DmaPool {
  readonly #pool: Piscina<BurstTask, BurstResult>;
  #closed: Promise<void> | null = null;

  constructor(options: DmaPoolOptions = {}) {
    const threads = options.threads ?? os.availableParallelism();
    if (!Number.isSafeInteger(threads) || threads <= 0) throw new DmalogError('DMALOG_BAD_OPTION', 'options.threads must be a positive integer');
    const idleTimeout = options.idleTimeoutMs ?? 2000;
    if (!Number.isFinite(idleTimeout) || idleTimeout < 0) throw new DmalogError('DMALOG_BAD_OPTION', 'options.idleTimeoutMs must be a non-negative number');
    this.#pool = new Piscina({ filename: DMA_ENTRY.href, minThreads: threads, maxThreads: threads, idleTimeout, name: 'default', execArgv: workerExecArgv() });
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
