// A worker thread's life as the host's side of a transport sees it (a device's tracker thread,
// worker-transport.ts; an iommufd's, iommufd-transport.ts): the first cause of its death, and
// calls raced against that death and a deadline. A call in flight when the thread dies rejects
// with the death's errno (ENODEV); one past its deadline with ETIMEDOUT, and the thread is then
// ended: its state is unknown, so every later call is refused.
import { VfioError } from '../errors.js';
import type { Errno } from '../uapi/errno.js';

export interface ThreadLifeOptions {
  /** What the thread is, in messages: 'tracker', 'iommufd'. */
  name: string;
  timeoutMs: number;
  /** End the thread (after a deadline, or when a caller treats it as failed). */
  terminate: () => Promise<unknown>;
  /** Run once the thread is known dead, after every waiting call was failed. */
  onDead?: () => void;
}

export class ThreadLife {
  readonly #options: ThreadLifeOptions;
  #death: Errno | null = null;
  readonly #waiters = new Set<(errno: Errno) => void>();

  constructor(options: ThreadLifeOptions) {
    this.#options = options;
  }

  /** Why the thread is gone, once it is. */
  get death(): Errno | null {
    return this.#death;
  }

  /** The first cause wins; every call still waiting is failed with it. */
  markDead(errno: Errno): void {
    this.#death ??= errno;
    for (const w of this.#waiters) w(this.#death);
    this.#waiters.clear();
    this.#options.onDead?.();
  }

  /** Treat the thread as failed: calls still pending get `errno`, later ones ENODEV; the thread is ended. */
  fail(errno: Errno): void {
    this.markDead(errno);
    void this.#options.terminate();
  }

  /** Call `waiter` when the thread dies (at once when it is dead); returns how to stop waiting. */
  onDeath(waiter: (errno: Errno) => void): () => void {
    if (this.#death) { waiter(this.#death); return () => {}; }
    this.#waiters.add(waiter);
    return () => this.#waiters.delete(waiter);
  }

  /**
   * `answer` (call `what`) raced against the thread's death and the deadline. A rejection that
   * is not a VfioError goes through `thrown`: what the caller sees, and whether the thread is
   * then treated as failed with that errno.
   */
  race<T>(what: string, answer: Promise<T>, thrown: (error: unknown) => { error: VfioError; fail: boolean }): Promise<T> {
    const { name, timeoutMs } = this.#options;
    return new Promise<T>((resolve, reject) => {
      if (this.#death) {
        answer.catch(() => {}); // nobody waits for it any more
        reject(new VfioError(this.#death, `${name} thread died during ${what}`));
        return;
      }
      let settled = false;
      const finish = () => { settled = true; clearTimeout(timer); forget(); };
      const timer = setTimeout(() => {
        if (settled) return;
        finish();
        // Rejected before the thread is marked dead: the caller sees the deadline, not the death.
        reject(new VfioError('ETIMEDOUT', `${name} ${what} exceeded ${timeoutMs} ms`));
        this.fail('ETIMEDOUT');
      }, timeoutMs);
      const forget = this.onDeath((errno) => {
        if (settled) return;
        finish();
        reject(new VfioError(errno, `${name} thread died during ${what}`));
      });
      answer.then(
        (value) => { if (!settled) { finish(); resolve(value); } },
        (error: unknown) => {
          if (settled) return;
          finish();
          if (error instanceof VfioError) { reject(error); return; }
          const t = thrown(error);
          reject(t.error);
          if (t.fail) this.fail(t.error.errno);
        },
      );
    });
  }
}
