// How the host reaches an iommufd (src/iommufd/service.ts): its own worker thread
// (workers/iommufd.ts, the default), or this thread when the host's transport is 'in-thread'.
// As with a device's transport (transport.ts): a call in flight when the thread dies rejects
// with ENODEV, one past the deadline with ETIMEDOUT (the thread is then ended), later ones ENODEV.
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../device/node-endpoint.js';
import { VfioError } from '../errors.js';
import { IOMMUFD_READY, IommufdService, type IommufdInit, type IommufdMethod } from '../iommufd/service.js';
import type { Errno } from '../uapi/errno.js';
import { workerExecArgv } from '../util/worker-exec-argv.js';
import { ThreadLife } from './thread-life.js';
import type { TransportKind } from './transport.js';
import { recordThreadRole } from '../profile/threads.js';

const IOMMUFD_ENTRY = new URL('../../workers/iommufd.js', import.meta.url);

type Answer<M extends IommufdMethod> = ReturnType<IommufdService[M]>;

export interface IommufdTransport {
  readonly kind: TransportKind;
  readonly dead: Errno | null;
  call<M extends IommufdMethod>(method: M, ...args: Parameters<IommufdService[M]>): Promise<Answer<M>>;
  /** End the iommufd; idempotent. Pending and later calls reject with ENODEV. */
  terminate(): Promise<void>;
}

export async function spawnIommufd(kind: TransportKind, init: IommufdInit, timeoutMs: number): Promise<IommufdTransport> {
  return kind === 'in-thread' ? new InThreadIommufd(init) : WorkerIommufd.spawn(init, timeoutMs);
}

/** Each call on a later microtask, in call order, as a thread takes calls from its port. */
class InThreadIommufd implements IommufdTransport {
  readonly kind = 'in-thread' as const;
  readonly #service: IommufdService;
  #dead: Errno | null = null;

  constructor(init: IommufdInit) {
    this.#service = new IommufdService(init);
  }

  get dead(): Errno | null {
    return this.#dead;
  }

  call<M extends IommufdMethod>(method: M, ...args: Parameters<IommufdService[M]>): Promise<Answer<M>> {
    return Promise.resolve().then(() => {
      if (this.#dead) throw new VfioError('ENODEV', 'iommufd is closed');
      return (this.#service[method] as (...a: unknown[]) => Answer<M>).apply(this.#service, args);
    });
  }

  async terminate(): Promise<void> {
    this.#dead ??= 'ENODEV';
  }
}

class WorkerIommufd implements IommufdTransport {
  readonly kind = 'worker' as const;
  readonly #worker: Worker;
  readonly #proxy: Comlink.Remote<IommufdService>;
  readonly #life: ThreadLife;

  private constructor(worker: Worker, timeoutMs: number) {
    this.#worker = worker;
    this.#life = new ThreadLife({ name: 'iommufd', timeoutMs, terminate: () => worker.terminate() });
    this.#proxy = Comlink.wrap<IommufdService>(nodeEndpoint(worker));
    worker.on('error', () => this.#life.markDead('ENODEV'));
    worker.on('exit', () => this.#life.markDead('ENODEV'));
  }

  static async spawn(init: IommufdInit, timeoutMs: number): Promise<WorkerIommufd> {
    const worker = new Worker(IOMMUFD_ENTRY, { workerData: init, name: 'iommufd', execArgv: workerExecArgv() });
    recordThreadRole(worker.threadId, 'iommufd');
    const transport = new WorkerIommufd(worker, timeoutMs);
    try {
      await transport.#race('start', new Promise<void>((resolve) => {
        const onMessage = (msg: unknown) => {
          if ((msg as { type?: unknown } | null)?.type !== IOMMUFD_READY) return;
          worker.off('message', onMessage);
          resolve();
        };
        worker.on('message', onMessage);
      }));
    } catch (error) {
      await transport.terminate(); // a thread that never got ready must not outlive the failure
      throw error;
    }
    return transport;
  }

  get dead(): Errno | null {
    return this.#life.death;
  }

  call<M extends IommufdMethod>(method: M, ...args: Parameters<IommufdService[M]>): Promise<Answer<M>> {
    if (this.#life.death) return Promise.reject(new VfioError('ENODEV', 'iommufd thread is gone'));
    const run = this.#proxy[method] as unknown as (...a: unknown[]) => Promise<Answer<M>>;
    return this.#race(method, run(...args));
  }

  /** `answer`, raced against the thread's death and the deadline; a throw in the service is EIO (it answers errnos as values). */
  #race<T>(what: string, answer: Promise<T>): Promise<T> {
    return this.#life.race(what, answer, (error) => ({ error: new VfioError('EIO', `iommufd ${what} threw: ${String(error)}`), fail: false }));
  }

  async terminate(): Promise<void> {
    this.#life.markDead('ENODEV');
    await this.#worker.terminate();
  }
}
