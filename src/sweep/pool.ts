// The sweep's threads: a piscina pool running one migration per task (run-point.ts). A thread
// that dies mid-run, or a point past its time limit (its thread is ended), is that point's error.
import { Piscina } from 'piscina';
import { workerExecArgv } from '../util/worker-exec-argv.js';
import type { PointRun } from './record.js';
import { errorOf, type PointTask } from './run-point.js';

const POINT_ENTRY = new URL('../../workers/sweep-point.js', import.meta.url);

export class PointPool {
  readonly #pool: Piscina<PointTask, PointRun>;
  readonly #timeoutMs: number | null;
  #closed: Promise<void> | null = null;

  constructor(jobs: number, timeoutMs: number | null = null) {
    // atomics 'disabled': an idle thread waits on its port, not in Atomics.wait, so whatever a
    // finished run left to its event loop (a log flush, a thread's exit) still runs.
    this.#pool = new Piscina({ filename: POINT_ENTRY.href, minThreads: jobs, maxThreads: jobs, idleTimeout: 1000, atomics: 'disabled', name: 'default', execArgv: workerExecArgv() });
    this.#timeoutMs = timeoutMs;
  }

  get jobs(): number {
    return this.#pool.maxThreads;
  }

  /** Runs one point; never rejects. `stop` ends it (or drops it from the queue) when aborted. */
  async run(task: PointTask, stop?: AbortSignal): Promise<PointRun> {
    const began = performance.now();
    const timeout = this.#timeoutMs === null ? undefined : AbortSignal.timeout(this.#timeoutMs);
    const signals = [timeout, stop].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    try {
      return await this.#pool.run(task, { signal });
    } catch (error) {
      const wallMs = Math.round(performance.now() - began);
      if (stop?.aborted) return { result: null, error: { code: 'ECANCELED', message: 'the sweep stopped before this point ended' }, wallMs };
      if (timeout?.aborted) return { result: null, error: { code: 'ETIMEDOUT', message: `the point ran past --point-timeout (${this.#timeoutMs} ms); its thread was ended` }, wallMs };
      return { result: null, error: errorOf(error), wallMs };
    }
  }

  /** Ends the threads once queued points are done; idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#pool.close();
    return this.#closed;
  }
}
