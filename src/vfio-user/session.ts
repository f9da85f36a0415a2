// One vfio-user connection: one client session of one device. The session owns a dmalog host with
// that device (its tracker in its own thread), the client's DMA regions, the IRQ eventfds, the
// migration state and stream, and the device model. Commands are handled one at a time in the
// order they came; the client's replies to the device's DMA_READ/DMA_WRITE commands are taken as
// they come, in the middle of that loop.
//
// A session ends on EOF, on a message that cannot be framed, on a bad VERSION, or when the server
// closes it; ending it stops logging, ends the host (and so its tracker thread), and closes every
// fd the session holds. A failure in one session never reaches another.
import { readSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ProfileName } from '../device/profiles.js';
import { VfioError } from '../errors.js';
import { createHost, type Host } from '../host/host.js';
import type { LogLevel } from '../host/options.js';
import type { TransportKind } from '../host/transport.js';
import { FEATURE_HEADER_BYTES, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET } from '../uapi/abi.js';
import { ERRNO, isErrno, type Errno } from '../uapi/errno.js';
import { MIG_STATE_BYTES, MIGRATION_FEATURE_BYTES, VFIO_DEVICE_STATE, VFIO_MIGRATION_PRE_COPY, VFIO_MIGRATION_STOP_COPY } from '../uapi/migration.js';
import { failed, type Checked } from '../util/result.js';
import { type Capabilities, formatCapabilities } from './capabilities.js';
import { type Body, decodeMessage, encodeMessage, isDecodeFailure, type Message, type OutgoingMessage } from './codec.js';
import { type DeviceContext, type DeviceFactory, type DeviceModel, IRQ, NUM_IRQS, NUM_REGIONS } from './device-model.js';
import { DmaMap } from './dma-map.js';
import { type DirtyBitDropper, LoggingBridge } from './logging-bridge.js';
import { isMigrationState, type MigrationState, migrationWalk, STATE_NAMES } from './migration-state.js';
import {
  commandName, DEFAULT_MAX_FDS, DEVICE_FLAGS_PCI, DEVICE_FLAGS_RESET, DEVICE_INFO_BYTES, HEADER_BYTES, IRQ_INFO_BYTES, IRQ_SET_ACTION_MASK, IRQ_SET_ACTION_TRIGGER,
  IRQ_SET_ACTION_UNMASK, IRQ_SET_DATA_BOOL, IRQ_SET_DATA_EVENTFD, IRQ_SET_DATA_NONE, VFIO_USER, VFIO_USER_MAJOR,
  VFIO_USER_MINOR,
} from './protocol.js';
import type { Quirks } from './quirks.js';
import { encodeSparseMmapCap, errorReply, migDataReadReply, regionInfoReply, successReply } from './replies.js';
import { closeFds, type MessageSocket } from './unix-socket.js';

/** What the server advertises in its VERSION reply (libvfio-user's sample server advertises the same). */
export const SERVER_MAX_MSG_FDS = DEFAULT_MAX_FDS;
export const SERVER_MAX_DATA_XFER_SIZE = 1 << 20;
export const MIGRATION_PGSIZE = 4096;

export interface SessionOptions {
  id: number;
  profile: ProfileName;
  device: DeviceFactory;
  quirks: Quirks;
  logger: Logger;
  dropper: DirtyBitDropper | null;
  transport: TransportKind;
  hostLogLevel: LogLevel;
  /** Bytes of the session host's user memory (REPORT bitmaps are laid out there). */
  userMemoryBytes: number;
}

const { STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY } = VFIO_DEVICE_STATE;
const LE = true;

interface PendingDma { cmd: number; resolve: (m: Message) => void; reject: (e: Error) => void }

export class Session {
  readonly id: number;
  readonly #socket: MessageSocket;
  readonly #options: SessionOptions;
  readonly #log: Logger;
  readonly #dma = new DmaMap();
  #host: Host | null = null;
  #hostFd = -1;
  #bridge: LoggingBridge | null = null;
  #device: DeviceModel | null = null;
  readonly #ready: Promise<void>;
  #queue: Promise<void> = Promise.resolve();
  #peer: Capabilities | null = null;
  #irqFds = new Map<number, number[]>();
  #state: MigrationState = RUNNING;
  #outgoing: { bytes: Uint8Array; at: number } | null = null;
  #incoming: { bytes: Uint8Array; at: number } | null = null;
  #dmaId = 0;
  readonly #pendingDma = new Map<number, PendingDma>();
  readonly #background = new Set<Promise<void>>();
  #closing: Promise<void> | null = null;
  /** Set by a command whose reply ends the session (a refused handshake). */
  #closeAfterReply: string | null = null;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(socket: MessageSocket, options: SessionOptions) {
    this.id = options.id;
    this.#socket = socket;
    this.#options = options;
    this.#log = options.logger.child({ session: options.id });
    this.closed = new Promise((resolve) => { this.#resolveClosed = resolve; });
    this.#ready = this.#open();
    socket.listen({
      message: (bytes, fds) => this.#onMessage(bytes, fds),
      framing: (failure) => {
        this.#log.warn({ reason: failure.reason }, failure.detail);
        this.#enqueue(async () => {
          if (failure.header) await this.#send(errorReply(failure.header, failure.errno));
          void this.close('unframeable message');
        });
      },
      close: (reason) => { void this.close(reason === 'local' ? 'closed' : reason); },
    });
  }

  async #open(): Promise<void> {
    const o = this.#options;
    this.#host = await createHost({
      devices: [{ name: `vfu${o.id}`, profile: o.profile }], transport: o.transport, logLevel: o.hostLogLevel, userMemoryBytes: o.userMemoryBytes,
    });
    this.#hostFd = this.#host.open(`vfu${o.id}`);
    this.#bridge = new LoggingBridge(this.#host, this.#hostFd, o.quirks, this.#dma, o.dropper);
    this.#device = o.device(this.#context());
  }

  #context(): DeviceContext {
    return {
      nowSeconds: () => Math.floor(Date.now() / 1000),
      raiseIntx: () => this.#raise(IRQ.INTX),
      logger: this.#log,
      background: (what, work) => {
        const run = work().catch((error: unknown) => {
          if (!this.#closing) this.#log.warn({ err: (error as Error)?.message ?? String(error) }, `${what} failed`);
        }).finally(() => this.#background.delete(run));
        this.#background.add(run);
      },
      dma: {
        regions: () => this.#dma.regions.map((r) => ({ iova: r.iova, size: r.size, fd: r.fd })),
        write: (iova, data, via = 'auto') => this.#dmaWrite(iova, data, via),
        read: (iova, length, via = 'auto') => this.#dmaRead(iova, length, via),
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Messages in

  #onMessage(bytes: Uint8Array, fds: number[]): void {
    const decoded = decodeMessage(bytes, fds, { from: 'client', maxFds: SERVER_MAX_MSG_FDS });
    if (isDecodeFailure(decoded)) {
      closeFds(fds);
      this.#log.debug({ reason: decoded.reason, bytes: bytes.length, fds: fds.length }, `refused: ${decoded.detail}`);
      this.#enqueue(async () => {
        if (decoded.action !== 'close' && decoded.header) await this.#send(errorReply(decoded.header, decoded.errno));
        if (decoded.action !== 'reply') void this.close(decoded.reason);
      });
      return;
    }
    const { header } = decoded;
    this.#log.debug({ dir: 'in', cmd: commandName(header.cmd), msgId: header.msgId, type: header.type, bytes: bytes.length, fds: fds.length }, 'message');
    if (header.type === 'reply') {
      const pending = this.#pendingDma.get(header.msgId);
      if (!pending || pending.cmd !== header.cmd) {
        this.#log.warn({ msgId: header.msgId, cmd: header.cmd }, 'a reply to no command of the server: dropped');
        return;
      }
      this.#pendingDma.delete(header.msgId);
      pending.resolve(decoded);
      return;
    }
    this.#enqueue(async () => {
      let reply: OutgoingMessage | null;
      try {
        reply = await this.#handle(decoded, bytes);
      } catch (error) {
        closeFds(decoded.fds);
        if (this.#closing) return;
        const errno: Errno = error instanceof VfioError ? error.errno : 'EIO';
        if (!(error instanceof VfioError)) this.#log.error({ err: (error as Error)?.stack ?? String(error) }, 'command failed inside the server');
        reply = errorReply(header, errno);
      }
      if (reply && !header.noReply) await this.#send(reply);
      if (this.#closeAfterReply !== null) void this.close(this.#closeAfterReply);
    });
  }

  #enqueue(work: () => Promise<void>): void {
    this.#queue = this.#queue.then(async () => {
      if (this.#closing) return;
      await this.#ready;
      if (this.#closing) return;
      await work();
    }).catch((error: unknown) => {
      this.#log.error({ err: (error as Error)?.message ?? String(error) }, 'session failed');
      void this.close('internal error');
    });
  }

  async #send(m: OutgoingMessage): Promise<void> {
    if (this.#closing || this.#socket.closed) return;
    const bytes = encodeMessage(m);
    this.#log.debug({ dir: 'out', cmd: commandName(m.header.cmd), msgId: m.header.msgId, type: m.header.type, error: m.header.error ? m.header.errorNo : undefined, bytes: bytes.length, fds: m.fds?.length ?? 0 }, 'message');
    try {
      await this.#socket.send(bytes, m.fds ?? []);
    } catch (error) {
      void this.close(`send failed: ${(error as Error).message}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Commands

  async #handle(m: Message, bytes: Uint8Array): Promise<OutgoingMessage | null> {
    const { header, body } = m;
    const fail = (errno: Errno): OutgoingMessage => { closeFds(m.fds); return errorReply(header, errno); };
    if (this.#peer === null) {
      if (header.cmd !== VFIO_USER.VERSION || body.kind !== 'version') {
        this.#closeAfterReply = 'first command is not VERSION';
        return fail('EINVAL');
      }
      return this.#version(m, body);
    }
    if (this.#options.quirks.stateCommandRules && !this.#allowedInState(header.cmd)) return fail('EINVAL');
    const device = this.#device!;
    switch (body.kind) {
      case 'version':
        return fail('EINVAL');
      case 'dma-map': {
        const r = this.#dma.map({ iova: body.addr, size: body.size, offset: body.offset, flags: body.flags, fd: m.fds[0] ?? null });
        if (failed(r)) return fail(r.errno);
        if (r.unused !== null) closeFds([r.unused]);
        return successReply(header, { kind: 'empty' });
      }
      case 'dma-unmap':
        return this.#unmap(m, body);
      case 'device-info':
        return successReply(header, { kind: 'device-info', argsz: DEVICE_INFO_BYTES, flags: DEVICE_FLAGS_RESET | DEVICE_FLAGS_PCI, numRegions: NUM_REGIONS, numIrqs: NUM_IRQS, tail: new Uint8Array(0) });
      case 'region-info': {
        const info = device.region(body.index);
        if (!info) return fail('EINVAL');
        const caps = info.mmap ? encodeSparseMmapCap(info.mmap.areas) : new Uint8Array(0);
        const reply = regionInfoReply(body.argsz, { flags: info.flags, index: body.index, size: info.size, offset: 0n }, caps);
        const withCaps = reply.kind === 'region-info' && reply.capOffset !== 0;
        return successReply(header, reply, withCaps && info.mmap ? [info.mmap.fd] : []);
      }
      case 'irq-info': {
        const irq = device.irq(body.index);
        if (!irq) return fail('EINVAL');
        return successReply(header, { kind: 'irq-info', argsz: IRQ_INFO_BYTES, flags: irq.flags, index: body.index, count: irq.count, tail: new Uint8Array(0) });
      }
      case 'set-irqs':
        return this.#setIrqs(m, body);
      case 'region-access': {
        const info = device.region(body.region);
        if (!info || (this.#options.quirks.stateCommandRules && this.#state === STOP_COPY)) return fail('EINVAL');
        if (body.count === 0) return successReply(header, { kind: 'empty' });
        if (header.cmd === VFIO_USER.REGION_READ) {
          const data = device.read(body.region, body.offset, body.count);
          if (failed(data)) return fail(data.errno);
          return successReply(header, { kind: 'region-access', offset: body.offset, region: body.region, count: body.count, data });
        }
        const r = device.write(body.region, body.offset, body.data);
        if (failed(r)) return fail(r.errno);
        return successReply(header, { kind: 'region-access', offset: body.offset, region: body.region, count: body.count, data: new Uint8Array(0) });
      }
      case 'reset':
        if (this.#options.quirks.stateCommandRules && this.#state === STOP) return fail('EINVAL');
        device.reset();
        // libvfio-user: back to RUNNING without a transition handler call.
        this.#state = RUNNING;
        this.#outgoing = this.#incoming = null;
        return successReply(header, { kind: 'empty' });
      case 'feature':
        return this.#feature(m, body, bytes.subarray(HEADER_BYTES));
      case 'mig-data':
        return header.cmd === VFIO_USER.MIG_DATA_READ ? this.#migRead(m, body) : this.#migWrite(m, body);
      default:
        // dma-access commands come from the server only; the codec refuses them from a client.
        return fail('EINVAL');
    }
  }

  #version(m: Message, body: Extract<Body, { kind: 'version' }>): OutgoingMessage {
    const caps = body.capabilities!;
    if (body.major !== VFIO_USER_MAJOR || (caps.migration?.pgsize !== undefined && caps.migration.pgsize !== MIGRATION_PGSIZE)) {
      this.#closeAfterReply = 'VERSION refused';
      return errorReply(m.header, 'EINVAL');
    }
    this.#peer = caps;
    const json = formatCapabilities({ maxMsgFds: SERVER_MAX_MSG_FDS, maxDataXferSize: SERVER_MAX_DATA_XFER_SIZE, migration: { pgsize: MIGRATION_PGSIZE }, twinSocket: null });
    return successReply(m.header, { kind: 'version', major: VFIO_USER_MAJOR, minor: Math.min(body.minor, VFIO_USER_MINOR), json });
  }

  /** libvfio-user: in STOP and STOP_COPY only region access, DEVICE_FEATURE and MIG_DATA_READ. */
  #allowedInState(cmd: number): boolean {
    if (this.#state !== STOP && this.#state !== STOP_COPY) return true;
    const allowed: number[] = [VFIO_USER.REGION_READ, VFIO_USER.REGION_WRITE, VFIO_USER.DEVICE_FEATURE, VFIO_USER.MIG_DATA_READ];
    // RESET's own rule (refused in STOP) answers it.
    return allowed.includes(cmd) || (cmd === VFIO_USER.DEVICE_RESET && this.#state === STOP);
  }

  async #unmap(m: Message, body: Extract<Body, { kind: 'dma-unmap' }>): Promise<OutgoingMessage> {
    const found = this.#dma.find(body.addr, body.size, body.flags);
    if (failed(found)) return errorReply(m.header, found.errno);
    let bitmap = new Uint8Array(0);
    if (body.bitmap) {
      const region = found.removed[0]!;
      const r = await this.#bridge!.reportInto(region.iova, region.size, body.bitmap.pgsize, Number(body.bitmap.size));
      if (failed(r)) return errorReply(m.header, r.errno);
      bitmap = new Uint8Array(Number(body.bitmap.size));
      bitmap.set(r.bytes);
    }
    closeFds(this.#dma.remove(found.removed));
    // The reply echoes the request (argsz included) and appends the bitmap.
    return successReply(m.header, { kind: 'dma-unmap', argsz: body.argsz, flags: body.flags, addr: body.addr, size: body.size, bitmap: body.bitmap, tail: bitmap });
  }

  #setIrqs(m: Message, body: Extract<Body, { kind: 'set-irqs' }>): OutgoingMessage {
    const fail = (errno: Errno) => { closeFds(m.fds); return errorReply(m.header, errno); };
    const data = body.flags & (IRQ_SET_DATA_NONE | IRQ_SET_DATA_BOOL | IRQ_SET_DATA_EVENTFD);
    const action = body.flags & (IRQ_SET_ACTION_MASK | IRQ_SET_ACTION_UNMASK | IRQ_SET_ACTION_TRIGGER);
    const irq = this.#device!.irq(body.index);
    const oneBit = (x: number) => x !== 0 && (x & (x - 1)) === 0;
    if (!irq || !oneBit(data) || !oneBit(action) || (body.flags & ~(data | action)) !== 0) return fail('EINVAL');
    // DATA_NONE with count 0 and TRIGGER: switch the whole index off.
    if (body.count === 0) {
      if (data !== IRQ_SET_DATA_NONE || action !== IRQ_SET_ACTION_TRIGGER) return fail('EINVAL');
      closeFds(this.#irqFds.get(body.index) ?? []);
      this.#irqFds.delete(body.index);
      return successReply(m.header, { kind: 'empty' });
    }
    if (body.start + body.count > irq.count) return fail('EINVAL');
    if (data === IRQ_SET_DATA_EVENTFD) {
      if (action !== IRQ_SET_ACTION_TRIGGER) return fail('EINVAL');
      closeFds(this.#irqFds.get(body.index) ?? []);
      this.#irqFds.set(body.index, [...m.fds]);
      return successReply(m.header, { kind: 'empty' });
    }
    if (data === IRQ_SET_DATA_BOOL && body.data.length !== body.count) return fail('EINVAL');
    // Masking is not modelled: INTx is edge-signalled on the eventfd. A TRIGGER fires it now.
    if (action === IRQ_SET_ACTION_TRIGGER && (data === IRQ_SET_DATA_NONE || body.data.some((b) => b !== 0))) this.#raise(body.index);
    return successReply(m.header, { kind: 'empty' });
  }

  #raise(index: number): void {
    for (const fd of this.#irqFds.get(index) ?? []) {
      try {
        const one = new Uint8Array(8);
        one[0] = 1;
        writeSync(fd, one);
      } catch (error) {
        this.#log.warn({ index, err: (error as Error).message }, 'IRQ eventfd write failed');
      }
    }
  }

  // DEVICE_FEATURE: the migration features here, the rest through the host's ioctl path.
  async #feature(m: Message, body: Extract<Body, { kind: 'feature' }>, payload: Uint8Array): Promise<OutgoingMessage> {
    const feature = body.flags & VFIO_DEVICE_FEATURE_MASK;
    const started = performance.now();
    let answer: Checked<{ payload: Uint8Array | null; feature: string }>;
    if (feature === VFIO_DEVICE_FEATURE_MIGRATION || feature === VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE) {
      answer = this.#migrationFeature(body, payload);
    } else {
      answer = await this.#bridge!.call(payload);
    }
    const errno = failed(answer) ? answer.errno : null;
    this.#log.info({ feature, flags: `0x${body.flags.toString(16)}`, errno, ms: Math.round((performance.now() - started) * 1000) / 1000 }, `DEVICE_FEATURE ${feature} ${errno ?? 'ok'}`);
    if (failed(answer)) return errorReply(m.header, answer.errno);
    if (answer.payload === null) return successReply(m.header, { kind: 'empty' });
    return successReply(m.header, { kind: 'feature', argsz: new DataView(answer.payload.buffer, answer.payload.byteOffset).getUint32(0, LE), flags: body.flags, data: { kind: 'raw', data: answer.payload.slice(FEATURE_HEADER_BYTES) } });
  }

  #migrationFeature(body: Extract<Body, { kind: 'feature' }>, payload: Uint8Array): Checked<{ payload: Uint8Array; feature: string }> {
    const feature = body.flags & VFIO_DEVICE_FEATURE_MASK;
    const get = (body.flags & VFIO_DEVICE_FEATURE_GET) !== 0, set = (body.flags & VFIO_DEVICE_FEATURE_SET) !== 0;
    const probe = (body.flags & VFIO_DEVICE_FEATURE_PROBE) !== 0;
    if ((body.flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE)) !== 0) return { errno: 'EINVAL' };
    if (get === set && !(probe && get && set && feature === VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE)) return { errno: 'EINVAL' };
    // MIGRATION is GET only; MIG_DEVICE_STATE is GET and SET.
    if (feature === VFIO_DEVICE_FEATURE_MIGRATION && set) return { errno: 'EINVAL' };
    if (probe) return { payload: payload.slice(), feature: 'PROBE' };
    const reply = (data: Uint8Array): { payload: Uint8Array; feature: string } => {
      const out = new Uint8Array(FEATURE_HEADER_BYTES + data.length);
      const v = new DataView(out.buffer);
      v.setUint32(0, out.length, LE);
      v.setUint32(4, body.flags, LE);
      out.set(data, FEATURE_HEADER_BYTES);
      return { payload: out, feature: feature === VFIO_DEVICE_FEATURE_MIGRATION ? 'MIGRATION' : 'MIG_DEVICE_STATE' };
    };
    if (feature === VFIO_DEVICE_FEATURE_MIGRATION) {
      if (body.argsz < FEATURE_HEADER_BYTES + MIGRATION_FEATURE_BYTES) return { errno: 'EINVAL' };
      const data = new Uint8Array(MIGRATION_FEATURE_BYTES);
      new DataView(data.buffer).setBigUint64(0, BigInt(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY), LE);
      return reply(data);
    }
    if (body.argsz < FEATURE_HEADER_BYTES + MIG_STATE_BYTES) return { errno: 'EINVAL' };
    if (get) {
      const data = new Uint8Array(MIG_STATE_BYTES);
      new DataView(data.buffer).setUint32(0, this.#state, LE);
      return reply(data);
    }
    if (body.data.kind !== 'mig-state') return { errno: 'EINVAL' };
    const walked = this.#walk(body.data.deviceState);
    if (failed(walked)) return walked;
    // SET's reply is the request, byte for byte (data_fd included).
    return { payload: payload.slice(), feature: 'MIG_DEVICE_STATE' };
  }

  /** Take the device from its state to `to`, one step at a time; a refused step leaves the state there. */
  #walk(to: number): Checked<{ state: MigrationState }> {
    const walk = migrationWalk(this.#state, to);
    if (failed(walk)) return walk;
    for (const next of walk.steps) {
      const from = this.#state;
      if (from === RESUMING) {
        const incoming = this.#incoming;
        if (!incoming || incoming.at !== this.#device!.resumeBytes) return { errno: 'EINVAL' };
        const loaded = this.#device!.load(incoming.bytes);
        if (failed(loaded)) return loaded;
        this.#incoming = null;
      }
      if (next === PRE_COPY) this.#outgoing = { bytes: this.#device!.saveInitial(), at: 0 };
      else if (next === STOP_COPY) this.#outgoing = { bytes: this.#device!.saveFinal(), at: 0 };
      else this.#outgoing = null;
      if (next === RESUMING) this.#incoming = { bytes: new Uint8Array(this.#device!.resumeBytes), at: 0 };
      this.#state = next;
      this.#log.debug({ from: STATE_NAMES[from], to: STATE_NAMES[next] }, 'migration step');
      this.#device!.entered(next, from);
    }
    return { state: this.#state };
  }

  #migRead(m: Message, body: Extract<Body, { kind: 'mig-data' }>): OutgoingMessage {
    if ((this.#state !== PRE_COPY && this.#state !== STOP_COPY) || !this.#outgoing) return errorReply(m.header, 'EINVAL');
    if (body.size > this.#peer!.maxDataXferSize) return errorReply(m.header, 'EINVAL');
    const out = this.#outgoing;
    const chunk = out.bytes.subarray(out.at, Math.min(out.bytes.length, out.at + body.size));
    out.at += chunk.length;
    return successReply(m.header, migDataReadReply(body.size, chunk));
  }

  #migWrite(m: Message, body: Extract<Body, { kind: 'mig-data' }>): OutgoingMessage {
    const incoming = this.#incoming;
    if (this.#state !== RESUMING || !incoming) return errorReply(m.header, 'EINVAL');
    if (body.size > this.#peer!.maxDataXferSize || incoming.at + body.size > incoming.bytes.length) return errorReply(m.header, 'EINVAL');
    incoming.bytes.set(body.data, incoming.at);
    incoming.at += body.size;
    return successReply(m.header, { kind: 'empty' });
  }

  // ---------------------------------------------------------------------------------------------
  // Device DMA into the client's memory

  #region(iova: bigint, length: number) {
    const region = this.#dma.lookup(iova, BigInt(length));
    if (!region) throw new VfioError('EFAULT', `DMA of ${length} bytes at 0x${iova.toString(16)} is outside every mapped region`);
    return region;
  }

  async #dmaWrite(iova: bigint, data: Uint8Array, via: 'auto' | 'messages'): Promise<void> {
    if (this.#closing) throw new VfioError('ENODEV', 'session closed');
    if (data.length === 0) return;
    const region = this.#region(iova, data.length);
    const direct = via === 'auto' && region.fd !== null;
    if (direct) {
      const at = Number(region.offset + (iova - region.iova));
      let done = 0;
      while (done < data.length) done += writeSync(region.fd!, data, done, data.length - done, at + done);
    } else {
      for (let at = 0; at < data.length; at += this.#xfer()) {
        const chunk = data.subarray(at, Math.min(data.length, at + this.#xfer()));
        await this.#dmaCommand(VFIO_USER.DMA_WRITE, { kind: 'dma-access', addr: iova + BigInt(at), count: BigInt(chunk.length), data: chunk.slice() });
      }
    }
    if (direct || this.#options.quirks.logMessageDma) await this.#host!.dmaWrite(this.#hostFd, iova, BigInt(data.length));
  }

  async #dmaRead(iova: bigint, length: number, via: 'auto' | 'messages'): Promise<Uint8Array> {
    if (this.#closing) throw new VfioError('ENODEV', 'session closed');
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const region = this.#region(iova, length);
    await this.#host!.dmaRead(this.#hostFd, iova, BigInt(length));
    if (via === 'auto' && region.fd !== null) {
      const at = Number(region.offset + (iova - region.iova));
      let done = 0;
      while (done < length) {
        const n = readSync(region.fd, out, done, length - done, at + done);
        if (n === 0) break;
        done += n;
      }
      return out;
    }
    for (let at = 0; at < length; at += this.#xfer()) {
      const count = Math.min(length - at, this.#xfer());
      const reply = await this.#dmaCommand(VFIO_USER.DMA_READ, { kind: 'dma-access', addr: iova + BigInt(at), count: BigInt(count), data: new Uint8Array(0) });
      if (reply.body.kind !== 'dma-access' || reply.body.count !== BigInt(count) || reply.body.data.length !== count) throw new VfioError('EIO', 'DMA_READ reply of the wrong size');
      out.set(reply.body.data, at);
    }
    return out;
  }

  #xfer(): number {
    return Math.max(1, this.#peer?.maxDataXferSize ?? SERVER_MAX_DATA_XFER_SIZE);
  }

  /** Send a DMA command to the client and wait for its reply (an error reply rejects with its errno). */
  #dmaCommand(cmd: number, body: Body): Promise<Message> {
    this.#dmaId = (this.#dmaId % 0xffff) + 1;
    const msgId = this.#dmaId;
    return new Promise<Message>((resolve, reject) => {
      this.#pendingDma.set(msgId, { cmd, resolve, reject });
      void this.#send({ header: { msgId, cmd, type: 'command' }, body });
    }).then((reply) => {
      if (reply.header.error) {
        const name = Object.entries(ERRNO).find(([, n]) => n === reply.header.errorNo)?.[0];
        throw new VfioError(name && isErrno(name) ? name : 'EIO', `client answered ${commandName(cmd)} with errno ${reply.header.errorNo}`);
      }
      return reply;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // End

  /** End the session: STOP logging, end the host and its tracker, close every fd; idempotent. */
  close(reason = 'closed'): Promise<void> {
    if (!this.#closing) {
      this.#log.debug({ reason }, 'session closing');
      this.#closing = (async () => {
        for (const p of this.#pendingDma.values()) p.reject(new VfioError('ENODEV', 'session closed'));
        this.#pendingDma.clear();
        this.#socket.close();
        await this.#ready.catch((error: unknown) => this.#log.error({ err: (error as Error)?.message }, 'session host failed to start'));
        await this.#release();
        await Promise.allSettled([...this.#background]);
        this.#log.info({ reason }, 'session ended');
        this.#resolveClosed();
      })();
    }
    return this.#closing;
  }

  #released = false;
  async #release(): Promise<void> {
    if (this.#released || !this.#host) return;
    this.#released = true;
    this.#device?.close();
    try {
      if (this.#bridge?.logging) {
        await this.#bridge.stopIfLogging();
        this.#log.info('session ended while logging: STOP');
      }
    } catch { /* the tracker is gone: nothing left to stop */ }
    await this.#host.close();
    closeFds(this.#dma.clear());
    closeFds([...this.#irqFds.values()].flat());
    this.#irqFds.clear();
  }

  /** Whether the migration state is one of the protocol's (for tests). */
  get migrationState(): number {
    return this.#state;
  }
}

export { isMigrationState };
