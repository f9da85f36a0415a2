// The host thread's handle on a device driver running in its own worker thread
// (workers/tracker.ts). Every call races the worker's death and a deadline: a call in flight when the thread dies rejects with ENODEV, one past its deadline
// with ETIMEDOUT, one whose method threw with EIO (in the last two cases the tracker is then
// treated as failed: its thread is terminated, and every later call is ENODEV). REPORT goes as a
// bare message on the comlink port (protocol.ts); the races are the same for every method.
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { VfioError } from '../errors.js';
import type { Errno } from '../uapi/errno.js';
import { workerExecArgv } from '../util/worker-exec-argv.js';
import { nodeEndpoint } from '../device/node-endpoint.js';
import type { ReportRequest } from '../uapi/validate.js';
import { TRACKER_REPORT, isReadyMessage, isReportMessage, type ReportCall, type TrackerWorkerData } from '../device/protocol.js';
import type { DeviceDriver, Fault } from '../device/driver.js';
import { ThreadLife } from './thread-life.js';
import { faultKills, type DriverAnswer, type DriverCall, type TrackerTransport } from './transport.js';
import { recordThreadRole } from '../profile/threads.js';

const TRACKER_ENTRY = new URL('../../workers/tracker.js', import.meta.url);

type Methods = DriverCall | 'injectFault';
type Result<M extends Methods> = M extends DriverCall ? DriverAnswer<M> : ReturnType<DeviceDriver[M]>;

export class WorkerTransport implements TrackerTransport {
  readonly kind = 'worker' as const;
  readonly #worker: Worker;
  readonly #proxy: Comlink.Remote<DeviceDriver>;
  readonly #life: ThreadLife;
  /** REPORTs posted and not yet answered, by message id. */
  readonly #reports = new Map<number, { resolve: (r: Result<'report'>) => void; reject: (e: Error) => void }>();
  #nextReportId = 0;

  private constructor(worker: Worker, timeoutMs: number) {
    this.#worker = worker;
    // Calls failed through the death waiters get no answer: the REPORTs posted are forgotten.
    this.#life = new ThreadLife({ name: 'tracker', timeoutMs, terminate: () => worker.terminate(), onDead: () => this.#reports.clear() });
    this.#proxy = Comlink.wrap<DeviceDriver>(nodeEndpoint(worker));
    worker.on('error', () => this.#life.markDead('ENODEV'));
    worker.on('exit', () => this.#life.markDead('ENODEV'));
    worker.on('message', (msg: unknown) => this.#onReportAnswer(msg));
  }

  #onReportAnswer(msg: unknown): void {
    if (!isReportMessage(msg) || 'req' in msg) return;
    const pending = this.#reports.get(msg.id);
    if (!pending) return;
    this.#reports.delete(msg.id);
    if ('thrown' in msg) pending.reject(new Error(msg.thrown));
    else pending.resolve(msg.result);
  }

  #sendReport(req: ReportRequest): Promise<Result<'report'>> {
    return new Promise((resolve, reject) => {
      const id = ++this.#nextReportId;
      this.#reports.set(id, { resolve, reject });
      this.#worker.postMessage({ type: TRACKER_REPORT, id, req } satisfies ReportCall);
    });
  }

  static async spawn(data: TrackerWorkerData, timeoutMs: number): Promise<WorkerTransport> {
    const worker = new Worker(TRACKER_ENTRY, { workerData: data, name: `tracker:${data.device.name}`, execArgv: workerExecArgv() });
    recordThreadRole(worker.threadId, `tracker-${data.device.name}`);
    const remote = new WorkerTransport(worker, timeoutMs);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      // A thread that never got ready is ended before the failure is reported: a caller seeing the
      // rejection must find no thread left (one would keep the process alive).
      const fail = (error: VfioError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        remote.terminate().then(() => reject(error), () => reject(error));
      };
      const timer = setTimeout(() => fail(new VfioError('ETIMEDOUT', `tracker ${data.device.name} did not start`)), timeoutMs);
      const onMessage = (msg: unknown) => {
        if (!isReadyMessage(msg) || settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        forget();
        resolve();
      };
      worker.on('message', onMessage);
      const forget = remote.#life.onDeath((errno) => fail(new VfioError(errno, `tracker ${data.device.name} died while starting`)));
    });
    return remote;
  }

  get dead(): Errno | null {
    return this.#life.death;
  }

  call<M extends DriverCall>(method: M, ...args: Parameters<DeviceDriver[M]>): Promise<DriverAnswer<M>> {
    return this.#call(method, ...args);
  }

  async injectFault(fault: Fault): Promise<void> {
    try {
      await this.#call('injectFault', fault);
    } catch (error) {
      // A 'die' fault answers by dying, and a 'throw' may kill the thread before its answer
      // arrives: that is the fault taking effect.
      if (!(faultKills(fault) && error instanceof VfioError && error.errno === 'ENODEV')) throw error;
    }
  }

  /** Call a driver method; rejects with VfioError ENODEV (dead) or ETIMEDOUT (deadline). */
  #call<M extends Methods>(method: M, ...args: Parameters<DeviceDriver[M]>): Promise<Result<M>> {
    if (this.#life.death) return Promise.reject(new VfioError('ENODEV', 'tracker thread is gone'));
    const answer = method === 'report'
      ? this.#sendReport(args[0] as ReportRequest) as Promise<Result<M>>
      : (this.#proxy[method] as unknown as (...a: unknown[]) => Promise<Result<M>>)(...args);
    // Driver methods answer errnos as values: a throw is a broken driver, its state unknown.
    return this.#life.race(method, answer, (error) => ({ error: new VfioError('EIO', `tracker ${method} threw: ${(error as Error)?.message ?? String(error)}`), fail: true }));
  }

  /** End the thread; idempotent. */
  async terminate(): Promise<void> {
    this.#life.markDead('ENODEV');
    await this.#worker.terminate();
  }
}
