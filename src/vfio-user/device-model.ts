// What a device behind a vfio-user session is: a PCI function with VFIO's nine regions, five IRQ
// indexes and a migration stream. A device model answers region accesses and migration steps; the
// session (session.ts) owns the wire, the DMA map, the dirty log on the dmalog host and the
// migration state machine, and lends the model a DeviceContext to raise INTx and do DMA.
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Checked } from '../util/result.js';
import type { MigrationState } from './migration-state.js';
import type { SparseArea } from './replies.js';

/** VFIO_PCI_*_REGION_INDEX */
export const REGION = { BAR0: 0, BAR1: 1, BAR2: 2, BAR3: 3, BAR4: 4, BAR5: 5, ROM: 6, CONFIG: 7, VGA: 8 } as const;
export const NUM_REGIONS = 9;
/** VFIO_PCI_*_IRQ_INDEX */
export const IRQ = { INTX: 0, MSI: 1, MSIX: 2, ERR: 3, REQ: 4 } as const;
export const NUM_IRQS = 5;
export const PCI_CONFIG_BYTES = 256;

export interface RegionDescription {
  /** REGION_INFO flags (READ, WRITE, MMAP); CAPS is added by the reply builder when caps fit. */
  flags: number;
  size: bigint;
  /** Mappable areas (sparse-mmap capability) and the fd the client maps them from. */
  mmap?: { areas: SparseArea[]; fd: number };
}

export interface IrqDescription { flags: number; count: number }

/** How the device reaches the client's memory. */
export interface DeviceDma {
  /**
   * Write `data` at `iova`: through the region's fd when it has one (`via: 'auto'`), else, or with
   * `via: 'messages'`, by DMA_WRITE messages of at most the client's max_data_xfer_size. The
   * write is marked in the device's dirty log (kernel semantics; see quirks.ts).
   */
  write(iova: bigint, data: Uint8Array, via?: 'auto' | 'messages'): Promise<void>;
  /** Read `length` bytes at `iova` (never logged). */
  read(iova: bigint, length: number, via?: 'auto' | 'messages'): Promise<Uint8Array>;
  /** The mapped regions, in map order. */
  regions(): ReadonlyArray<{ iova: bigint; size: bigint; fd: number | null }>;
}

export interface DeviceContext {
  /** Wall-clock seconds, as time(NULL). */
  nowSeconds(): number;
  /** Signal INTx on the eventfd SET_IRQS gave (no-op without one). */
  raiseIntx(): void;
  dma: DeviceDma;
  logger: Logger;
  /** Device work that runs on its own (a timer's DMA round): its failure is logged, never thrown. */
  background(what: string, work: () => Promise<void>): void;
}

export interface DeviceModel {
  readonly name: string;
  region(index: number): RegionDescription | null;
  irq(index: number): IrqDescription | null;
  /** REGION_READ: `count` bytes, or an errno (EINVAL for a bad index, offset or size). */
  read(index: number, offset: bigint, count: number): Checked<Uint8Array>;
  write(index: number, offset: bigint, data: Uint8Array): Checked<{ written: true }>;
  /** DEVICE_RESET: registers back to their reset values. */
  reset(): void;
  /** The migration state changed by one step (timers start and stop here). */
  entered(state: MigrationState, from: MigrationState): void;
  /** PRE_COPY's initial copy (may be empty) and STOP_COPY's final one. */
  saveInitial(): Uint8Array;
  saveFinal(): Uint8Array;
  /** How many bytes RESUMING takes: exactly the final stream's size. */
  readonly resumeBytes: number;
  /** RESUMING → STOP: restore from the bytes written (EINVAL when they are not a stream of this device). */
  load(stream: Uint8Array): Checked<{ loaded: true }>;
  close(): void;
}

export type DeviceFactory = (ctx: DeviceContext) => DeviceModel;

export interface PciIds { vendor: number; device: number; subVendor: number; subDevice: number }

/**
 * A type-0 config header: IDs, command/status 0, class 0, every BAR dword 0x00000001 and
 * interrupt pin 1 (INTA#), as libvfio-user's sample device presents it.
 */
export function pciConfigSpace(ids: PciIds): Uint8Array {
  const c = new Uint8Array(PCI_CONFIG_BYTES);
  const v = new DataView(c.buffer);
  v.setUint16(0x00, ids.vendor, true);
  v.setUint16(0x02, ids.device, true);
  for (let bar = 0; bar < 6; bar++) v.setUint32(0x10 + bar * 4, 1, true);
  v.setUint16(0x2c, ids.subVendor, true);
  v.setUint16(0x2e, ids.subDevice, true);
  c[0x3d] = 1;
  return c;
}

/** Config reads anywhere in the 256 bytes; writes everywhere but the IDs (read-only in hardware). */
export function configRead(config: Uint8Array, offset: bigint, count: number): Checked<Uint8Array> {
  if (offset < 0n || offset + BigInt(count) > BigInt(config.length)) return { errno: 'EINVAL' };
  return config.slice(Number(offset), Number(offset) + count);
}
export function configWrite(config: Uint8Array, offset: bigint, data: Uint8Array): Checked<{ written: true }> {
  if (offset < 0n || offset + BigInt(data.length) > BigInt(config.length)) return { errno: 'EINVAL' };
  const at = Number(offset);
  data.forEach((b, i) => { if (at + i >= 4 && (at + i < 0x2c || at + i >= 0x30)) config[at + i] = b; });
  return { written: true };
}

/**
 * A BAR's memory in an unlinked regular file, so the client can mmap it (the fd goes with the
 * sparse-mmap REGION_INFO reply) and the device reads it with positioned I/O.
 */
export class BackingFile {
  readonly fd: number;
  readonly size: number;

  constructor(size: number) {
    const dir = mkdtempSync(join(tmpdir(), 'dmalog-bar-'));
    const path = join(dir, 'bar');
    this.fd = openSync(path, 'w+');
    rmSync(dir, { recursive: true, force: true });
    ftruncateSync(this.fd, size);
    this.size = size;
  }

  read(offset: number, count: number): Uint8Array {
    const out = new Uint8Array(count);
    let done = 0;
    while (done < count) {
      const n = readSync(this.fd, out, done, count - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  close(): void {
    try { closeSync(this.fd); } catch { /* closed */ }
  }
}
