// A vfio-user client in TypeScript, for tests: it speaks to `dmalog serve` (or startVfioUserServer)
// over a real AF_UNIX socket with real fds. Guest memory is a file the client maps into the server
// by DMA_MAP; the client answers the server's DMA_READ/DMA_WRITE commands against that file, as
// a VMM does, and counts them.
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Body, decodeMessage, encodeMessage, isDecodeFailure, type Message } from '../../src/vfio-user/codec.js';
import {
  DMA_MAP_BYTES, DMA_MAP_FLAG_READ, DMA_MAP_FLAG_WRITE, DMA_UNMAP_BYTES, IRQ_SET_ACTION_TRIGGER, IRQ_SET_BYTES,
  IRQ_SET_DATA_EVENTFD, VFIO_USER,
} from '../../src/vfio-user/protocol.js';
import { closeFds, connectUnix, type MessageSocket } from '../../src/vfio-user/unix-socket.js';
import {
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, VFIO_DEVICE_FEATURE_SET,
} from '../../src/uapi/abi.js';

export const CLIENT_VERSION_JSON = '{"capabilities":{"max_msg_fds":32,"max_data_xfer_size":1024}}';

/** Guest memory: an unlinked file the client passes with DMA_MAP. */
export class GuestMemory {
  readonly fd: number;
  constructor(readonly bytes: number) {
    const dir = mkdtempSync(join(tmpdir(), 'dmalog-guest-'));
    this.fd = openSync(join(dir, 'mem'), 'w+');
    rmSync(dir, { recursive: true, force: true });
    ftruncateSync(this.fd, bytes);
  }
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) { const n = readSync(this.fd, out, done, length - done, offset + done); if (n === 0) break; done += n; }
    return out;
  }
  write(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
  }
  close(): void { try { closeSync(this.fd); } catch { /* closed */ } }
}

/** An "eventfd" the test can read: a regular file the server appends its u64 writes to. */
export class IrqFile {
  readonly fd: number;
  readonly #path: string;
  readonly #dir: string;
  constructor() {
    this.#dir = mkdtempSync(join(tmpdir(), 'dmalog-irq-'));
    this.#path = join(this.#dir, 'irq');
    this.fd = openSync(this.#path, 'w+');
  }
  /** Signals written so far. */
  get count(): number {
    return readFileSync(this.#path).length / 8;
  }
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.count < n) {
      if (Date.now() > until) throw new Error(`IRQ: ${this.count} of ${n} signals after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  close(): void { try { closeSync(this.fd); } catch { /* closed */ } rmSync(this.#dir, { recursive: true, force: true }); }
}

export interface MapEntry { iova: bigint; size: bigint; offset: bigint }

export class VfioUserClient {
  readonly socket: MessageSocket;
  #nextId = 0x100;
  readonly #waiting = new Map<number, (m: Message | Error) => void>();
  readonly #raw: Array<{ bytes: Uint8Array; fds: number[] }> = [];
  #rawWake: (() => void) | null = null;
  /** Maps the server may DMA into (by messages), against `memory`. */
  readonly maps: MapEntry[] = [];
  memory: GuestMemory | null = null;
  readonly dmaCommands: Array<{ cmd: number; addr: bigint; count: bigint; msgId: number }> = [];
  closedBy: string | null = null;
  #closedWake: (() => void) | null = null;
  /** Fds received on replies, closed with the client. */
  readonly received: number[] = [];

  readonly #serveDmaCommands: boolean;

  private constructor(socket: MessageSocket, serveDma: boolean) {
    this.socket = socket;
    this.#serveDmaCommands = serveDma;
    socket.listen({
      message: (bytes, fds) => this.#onMessage(bytes, fds),
      framing: () => {},
      close: (reason) => {
        this.closedBy = reason;
        for (const w of this.#waiting.values()) w(new Error(`connection closed (${reason})`));
        this.#waiting.clear();
        this.#closedWake?.();
        this.#rawWake?.();
      },
    });
  }

  /** `serveDma: false` leaves the server's DMA commands unanswered (the replay answers them itself). */
  static async connect(path: string, options: { serveDma?: boolean } = {}): Promise<VfioUserClient> {
    return new VfioUserClient(await connectUnix(path), options.serveDma ?? true);
  }

  #onMessage(bytes: Uint8Array, fds: number[]): void {
    this.received.push(...fds);
    this.#raw.push({ bytes, fds });
    this.#rawWake?.();
    const m = decodeMessage(bytes, fds, { from: 'server', maxMessageBytes: 1 << 26 });
    if (isDecodeFailure(m)) return;
    if (m.header.type === 'command') { if (this.#serveDmaCommands) void this.#serveDma(m); return; }
    this.#waiting.get(m.header.msgId)?.(m);
    this.#waiting.delete(m.header.msgId);
  }

  /** Every message received so far, raw (hostile tests). */
  get rawMessages(): ReadonlyArray<{ bytes: Uint8Array; fds: number[] }> {
    return this.#raw;
  }

  async waitRaw(n: number, timeoutMs = 3000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.#raw.length < n && this.closedBy === null) {
      if (Date.now() > until) throw new Error(`${this.#raw.length} of ${n} messages after ${timeoutMs} ms`);
      await new Promise<void>((r) => { this.#rawWake = r; setTimeout(r, 20); });
    }
  }

  /** Resolves when the server has closed the connection (rejects after the timeout). */
  async waitClosed(timeoutMs = 3000): Promise<string> {
    const until = Date.now() + timeoutMs;
    while (this.closedBy === null) {
      if (Date.now() > until) throw new Error('server did not close the session');
      await new Promise<void>((r) => { this.#closedWake = r; setTimeout(r, 20); });
    }
    return this.closedBy;
  }

  async #serveDma(m: Message): Promise<void> {
    if (m.body.kind !== 'dma-access') return;
    const { addr, count } = m.body;
    this.dmaCommands.push({ cmd: m.header.cmd, addr, count, msgId: m.header.msgId });
    const map = this.maps.find((e) => addr >= e.iova && addr + count <= e.iova + e.size);
    if (!map || !this.memory) {
      await this.socket.send(encodeMessage({ header: { msgId: m.header.msgId, cmd: m.header.cmd, type: 'reply', error: true, errorNo: 14 }, body: { kind: 'error', payload: new Uint8Array(0) } }));
      return;
    }
    const at = Number(map.offset + (addr - map.iova));
    if (m.header.cmd === VFIO_USER.DMA_WRITE) {
      this.memory.write(at, m.body.data);
      await this.socket.send(encodeMessage({ header: { msgId: m.header.msgId, cmd: m.header.cmd, type: 'reply' }, body: { kind: 'dma-access', addr, count, data: new Uint8Array(0) } }));
    } else {
      const data = this.memory.read(at, Number(count));
      await this.socket.send(encodeMessage({ header: { msgId: m.header.msgId, cmd: m.header.cmd, type: 'reply' }, body: { kind: 'dma-access', addr, count, data } }));
    }
  }

  /** Send a command and wait for its reply. */
  async request(cmd: number, body: Body, fds: number[] = [], timeoutMs = 5000): Promise<Message> {
    const msgId = this.#nextId = (this.#nextId + 1) & 0xffff;
    const reply = new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => { this.#waiting.delete(msgId); reject(new Error(`no reply to command ${cmd} (#${msgId})`)); }, timeoutMs);
      this.#waiting.set(msgId, (m) => { clearTimeout(timer); if (m instanceof Error) reject(m); else resolve(m); });
    });
    await this.socket.send(encodeMessage({ header: { msgId, cmd, type: 'command' }, body }), fds);
    return reply;
  }

  /** Send raw bytes (hostile tests). */
  sendRaw(bytes: Uint8Array, fds: number[] = []): Promise<void> {
    return this.socket.send(bytes, fds);
  }

  async version(json: string | null = CLIENT_VERSION_JSON): Promise<Message> {
    return this.request(VFIO_USER.VERSION, { kind: 'version', major: 0, minor: 2, json });
  }

  regionInfo(index: number, argsz = 32): Promise<Message> {
    return this.request(VFIO_USER.DEVICE_GET_REGION_INFO, { kind: 'region-info', argsz, flags: 0, index, capOffset: 0, size: 0n, offset: 0n, tail: new Uint8Array(Math.max(0, argsz - 32)) });
  }

  regionRead(region: number, offset: bigint, count: number): Promise<Message> {
    return this.request(VFIO_USER.REGION_READ, { kind: 'region-access', offset, region, count, data: new Uint8Array(0) });
  }

  regionWrite(region: number, offset: bigint, data: Uint8Array): Promise<Message> {
    return this.request(VFIO_USER.REGION_WRITE, { kind: 'region-access', offset, region, count: data.length, data });
  }

  /** DMA_MAP [iova, iova + size) of `memory` at file offset `offset` (with its fd unless `withFd` is false). */
  async dmaMap(memory: GuestMemory, iova: bigint, size: bigint, offset = iova, withFd = true): Promise<Message> {
    this.memory = memory;
    const reply = await this.request(VFIO_USER.DMA_MAP, { kind: 'dma-map', argsz: DMA_MAP_BYTES, flags: DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE, offset, addr: iova, size, tail: new Uint8Array(0) }, withFd ? [memory.fd] : []);
    if (!reply.header.error) this.maps.push({ iova, size, offset });
    return reply;
  }

  async dmaUnmap(iova: bigint, size: bigint, flags = 0, bitmap: { pgsize: bigint; size: bigint } | null = null): Promise<Message> {
    const argsz = DMA_UNMAP_BYTES + (bitmap ? 16 + Number(bitmap.size) : 0);
    const reply = await this.request(VFIO_USER.DMA_UNMAP, { kind: 'dma-unmap', argsz, flags, addr: iova, size, bitmap, tail: new Uint8Array(0) });
    if (!reply.header.error) {
      for (let i = this.maps.length - 1; i >= 0; i--) if (flags & 2 || (this.maps[i]!.iova === iova && this.maps[i]!.size === size)) this.maps.splice(i, 1);
    }
    return reply;
  }

  setIrqEventfd(index: number, fd: number): Promise<Message> {
    return this.request(VFIO_USER.DEVICE_SET_IRQS, { kind: 'set-irqs', argsz: IRQ_SET_BYTES, flags: IRQ_SET_DATA_EVENTFD | IRQ_SET_ACTION_TRIGGER, index, start: 0, count: 1, data: new Uint8Array(0) }, [fd]);
  }

  feature(flags: number, data: Uint8Array, argsz = 8 + data.length): Promise<Message> {
    return this.request(VFIO_USER.DEVICE_FEATURE, { kind: 'feature', argsz, flags, data: { kind: 'raw', data } });
  }

  start(pageSize: bigint, ranges: Array<{ iova: bigint; length: bigint }> = []): Promise<Message> {
    const data = new Uint8Array(16 + ranges.length * 16);
    const v = new DataView(data.buffer);
    v.setBigUint64(0, pageSize, true);
    v.setUint32(8, ranges.length, true);
    ranges.forEach((r, i) => { v.setBigUint64(16 + i * 16, r.iova, true); v.setBigUint64(24 + i * 16, r.length, true); });
    return this.feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, data);
  }

  stop(): Promise<Message> {
    return this.feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, new Uint8Array(0));
  }

  /** REPORT; argsz leaves room for exactly the bitmap the window needs. */
  report(iova: bigint, length: bigint, pageSize: bigint): Promise<Message> {
    const data = new Uint8Array(24);
    const v = new DataView(data.buffer);
    v.setBigUint64(0, iova, true); v.setBigUint64(8, length, true); v.setBigUint64(16, pageSize, true);
    const pages = (length + pageSize - 1n) / pageSize;
    const bitmapBytes = Number((pages + 63n) / 64n) * 8;
    return this.feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, data, 8 + 24 + bitmapBytes);
  }

  setState(state: number): Promise<Message> {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setUint32(0, state, true);
    new DataView(data.buffer).setUint32(4, 0xffffffff, true);
    return this.feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, data);
  }

  async getState(): Promise<number> {
    const m = await this.feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, new Uint8Array(8));
    if (m.body.kind !== 'feature' || m.body.data.kind !== 'mig-state') throw new Error('no mig-state in the reply');
    return m.body.data.deviceState;
  }

  migRead(size: number): Promise<Message> {
    return this.request(VFIO_USER.MIG_DATA_READ, { kind: 'mig-data', argsz: 8 + size, size, data: new Uint8Array(0), padding: 0 });
  }

  migWrite(data: Uint8Array): Promise<Message> {
    return this.request(VFIO_USER.MIG_DATA_WRITE, { kind: 'mig-data', argsz: 8 + data.length, size: data.length, data, padding: 0 });
  }

  close(): void {
    this.socket.close();
    closeFds(this.received.splice(0));
  }
}

/** The bitmap bytes of a REPORT reply. */
export function reportBitmap(m: Message): Uint8Array {
  if (m.header.error) throw new Error(`REPORT failed: errno ${m.header.errorNo}`);
  if (m.body.kind !== 'feature' || m.body.data.kind !== 'report') throw new Error(`not a REPORT reply: ${m.body.kind}`);
  return m.body.data.bitmap;
}
