// A device's driver run in the calling thread, behind the same interface as a worker thread:
// for a deterministic mode (no thread scheduling between host and driver) and for a vfio-user
// server that owns the device itself. Each call runs on a later microtask, in call order, as a
// thread takes calls from its port; what a worker thread's death does is mapped onto this one
// thread: a driver that "dies" is gone (ENODEV), one that throws is failed (EIO), and calls queued
// behind either get that errno. There is no deadline: a call runs to its end before any timer
// (a slow-report fault blocks this thread, as it blocks a device thread).
import { DeviceDriver, type DriverInit, type Fault } from '../device/driver.js';
import { VfioError } from '../errors.js';
import { type Errno } from '../uapi/errno.js';
import { faultKills, type DriverAnswer, type DriverCall, type TrackerTransport } from './transport.js';

/** What the driver's `die` throws here, in place of ending a thread. */
class DriverDied extends Error {
  override name = 'DriverDied';
}

export class InThreadTransport implements TrackerTransport {
  readonly kind = 'in-thread' as const;
  readonly #driver: DeviceDriver;
  readonly #name: string;
  #death: Errno | null = null;

  constructor(init: DriverInit) {
    this.#name = init.device.name;
    this.#driver = new DeviceDriver(
      init,
      () => { throw new DriverDied(`driver ${init.device.name} died`); },
      // An uncaught exception ends a device thread after its answer: here it ends the driver.
      () => { setTimeout(() => this.#markDead('ENODEV')); },
    );
  }

  get dead(): Errno | null {
    return this.#death;
  }

  #markDead(errno: Errno): void {
    this.#death ??= errno;
  }

  call<M extends DriverCall>(method: M, ...args: Parameters<DeviceDriver[M]>): Promise<DriverAnswer<M>> {
    const run = this.#driver[method] as (...a: unknown[]) => DriverAnswer<M>;
    return this.#run(method, () => run.apply(this.#driver, args));
  }

  async injectFault(fault: Fault): Promise<void> {
    try {
      await this.#run('injectFault', () => this.#driver.injectFault(fault));
    } catch (error) {
      // A 'die' fault answers by dying: that is the fault taking effect.
      if (!(faultKills(fault) && error instanceof VfioError && error.errno === 'ENODEV')) throw error;
    }
  }

  #run<T>(what: string, body: () => T): Promise<T> {
    // A call issued while the driver lived and queued behind its death gets the death's errno;
    // a call issued after it, ENODEV (as with a worker thread).
    const issuedAlive = this.#death === null;
    return Promise.resolve().then(() => {
      if (this.#death) throw new VfioError(issuedAlive ? this.#death : 'ENODEV', `tracker ${this.#name} is gone`);
      try {
        return body();
      } catch (error) {
        if (error instanceof DriverDied) {
          this.#markDead('ENODEV');
          throw new VfioError('ENODEV', `tracker ${this.#name} died during ${what}`);
        }
        // Driver methods answer errnos as values: a throw is a broken driver, its state unknown.
        this.#markDead('EIO');
        throw new VfioError('EIO', `tracker ${what} threw: ${(error as Error)?.message ?? String(error)}`);
      }
    });
  }

  async terminate(): Promise<void> {
    this.#markDead('ENODEV');
  }
}
