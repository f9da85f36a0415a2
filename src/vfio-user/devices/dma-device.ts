// `--device mlx5|pds|none`: a small DMA-capable PCI function in front of a dmalog device profile.
// BAR0 is a register file with a DMA engine a client drives (so a test can make the device write
// guest memory and watch the dirty log), BAR1 64 KiB of memory the client may mmap. Migration
// streams BAR1 in PRE_COPY (the initial copy) and a header, the register file and BAR1 in
// STOP_COPY (the final copy, what RESUMING takes).
//
// BAR0 registers (little-endian):
//   0x00 u32 ID (read-only, 'dmlg')     0x08 u64 DMA_IOVA        0x10 u64 DMA_LENGTH
//   0x18 u32 DMA_PATTERN (low byte)     0x1c u32 DMA_DOORBELL: 1 write the pattern to guest memory,
//        2 read guest memory (sum into DMA_CHECKSUM); | 0x100 by DMA messages even where the
//        region has an fd; | 0x200 raise INTx when done
//   0x20 u32 DMA_STATUS (read-only): 0 idle, 1 busy, 2 done, 0x80000000 | errno number on failure
//   0x24 u32 DMA_CHECKSUM (read-only)   0x28..0xff scratch (kept across migration)
import { ERRNO } from '../../uapi/errno.js';
import type { ProfileName } from '../../device/profiles.js';
import { VfioError } from '../../errors.js';
import type { Checked } from '../../util/result.js';
import {
  BackingFile, configRead, configWrite, pciConfigSpace, REGION, type DeviceContext, type DeviceModel, type IrqDescription,
  type PciIds, type RegionDescription,
} from '../device-model.js';
import { IRQ_INFO_EVENTFD, REGION_INFO_FLAG_MMAP, REGION_INFO_FLAG_READ, REGION_INFO_FLAG_WRITE } from '../protocol.js';

export const REG = {
  ID: 0x00, DMA_IOVA: 0x08, DMA_LENGTH: 0x10, DMA_PATTERN: 0x18, DMA_DOORBELL: 0x1c, DMA_STATUS: 0x20, DMA_CHECKSUM: 0x24,
  SCRATCH: 0x28,
} as const;
export const DOORBELL = { WRITE: 1, READ: 2, BY_MESSAGES: 0x100, INTX_WHEN_DONE: 0x200 } as const;
export const DMA_STATUS = { IDLE: 0, BUSY: 1, DONE: 2, FAILED: 0x8000_0000 } as const;
export const DEVICE_ID_VALUE = 0x676c6d64; // 'dmlg'
export const REGISTER_FILE_BYTES = 256;
export const DMA_BAR1_BYTES = 64 << 10;
/** The largest DMA one doorbell starts. */
export const MAX_DOORBELL_DMA_BYTES = 16 << 20;
const STREAM_MAGIC = 0x6d6c6d64; // 'dmlm'
const STREAM_VERSION = 1;
const STREAM_HEADER_BYTES = 8;
export const DMA_FINAL_STREAM_BYTES = STREAM_HEADER_BYTES + REGISTER_FILE_BYTES + DMA_BAR1_BYTES;

/** Illustrative PCI IDs per profile (the vendors' own, device numbers of their VF functions). */
export const PROFILE_PCI_IDS: Record<ProfileName, PciIds> = {
  mlx5: { vendor: 0x15b3, device: 0x101e, subVendor: 0x15b3, subDevice: 0x0001 },
  pds: { vendor: 0x1dd8, device: 0x1003, subVendor: 0x1dd8, subDevice: 0x0001 },
  none: { vendor: 0x1b36, device: 0x0005, subVendor: 0x1af4, subDevice: 0x1100 },
};

const RW = REGION_INFO_FLAG_READ | REGION_INFO_FLAG_WRITE;
const IRQS: IrqDescription[] = [
  { flags: IRQ_INFO_EVENTFD, count: 1 }, { flags: IRQ_INFO_EVENTFD, count: 0 }, { flags: IRQ_INFO_EVENTFD, count: 0 },
  { flags: IRQ_INFO_EVENTFD, count: 1 }, { flags: IRQ_INFO_EVENTFD, count: 1 },
];

export function createDmaDevice(profile: ProfileName): (ctx: DeviceContext) => DeviceModel {
  return (ctx) => new DmaDevice(ctx, profile);
}

class DmaDevice implements DeviceModel {
  readonly name: string;
  readonly resumeBytes = DMA_FINAL_STREAM_BYTES;
  readonly #ctx: DeviceContext;
  readonly #config: Uint8Array;
  readonly #regs = new Uint8Array(REGISTER_FILE_BYTES);
  readonly #view = new DataView(this.#regs.buffer);
  readonly #bar1 = new BackingFile(DMA_BAR1_BYTES);

  constructor(ctx: DeviceContext, profile: ProfileName) {
    this.#ctx = ctx;
    this.name = profile;
    this.#config = pciConfigSpace(PROFILE_PCI_IDS[profile]);
    this.reset();
  }

  region(index: number): RegionDescription | null {
    switch (index) {
      case REGION.BAR0: return { flags: RW, size: BigInt(REGISTER_FILE_BYTES) };
      case REGION.BAR1: return { flags: RW | REGION_INFO_FLAG_MMAP, size: BigInt(DMA_BAR1_BYTES), mmap: { areas: [{ offset: 0n, size: BigInt(DMA_BAR1_BYTES) }], fd: this.#bar1.fd } };
      case REGION.CONFIG: return { flags: RW, size: BigInt(this.#config.length) };
      default: return index >= 0 && index <= REGION.VGA ? { flags: 0, size: 0n } : null;
    }
  }

  irq(index: number): IrqDescription | null {
    return IRQS[index] ?? null;
  }

  read(index: number, offset: bigint, count: number): Checked<Uint8Array> {
    if (index === REGION.CONFIG) return configRead(this.#config, offset, count);
    const size = index === REGION.BAR0 ? REGISTER_FILE_BYTES : index === REGION.BAR1 ? DMA_BAR1_BYTES : 0;
    if (size === 0 || offset < 0n || offset + BigInt(count) > BigInt(size)) return { errno: 'EINVAL' };
    return index === REGION.BAR0 ? this.#regs.slice(Number(offset), Number(offset) + count) : this.#bar1.read(Number(offset), count);
  }

  write(index: number, offset: bigint, data: Uint8Array): Checked<{ written: true }> {
    if (index === REGION.CONFIG) return configWrite(this.#config, offset, data);
    if (index === REGION.BAR1) {
      if (offset < 0n || offset + BigInt(data.length) > BigInt(DMA_BAR1_BYTES)) return { errno: 'EINVAL' };
      this.#bar1.write(Number(offset), data);
      return { written: true };
    }
    if (index !== REGION.BAR0 || offset < 0n || offset + BigInt(data.length) > BigInt(REGISTER_FILE_BYTES)) return { errno: 'EINVAL' };
    const at = Number(offset);
    // ID, STATUS and CHECKSUM are read-only; a write covering them leaves them.
    const keep = this.#regs.slice();
    this.#regs.set(data, at);
    for (const ro of [REG.ID, REG.DMA_STATUS, REG.DMA_CHECKSUM]) this.#regs.set(keep.subarray(ro, ro + 4), ro);
    if (at <= REG.DMA_DOORBELL && at + data.length >= REG.DMA_DOORBELL + 4) {
      const doorbell = this.#view.getUint32(REG.DMA_DOORBELL, true);
      this.#view.setUint32(REG.DMA_DOORBELL, 0, true);
      if (doorbell !== 0) return this.#ring(doorbell);
    }
    return { written: true };
  }

  #ring(doorbell: number): Checked<{ written: true }> {
    const op = doorbell & 0xff;
    const iova = this.#view.getBigUint64(REG.DMA_IOVA, true);
    const length = this.#view.getBigUint64(REG.DMA_LENGTH, true);
    if ((op !== DOORBELL.WRITE && op !== DOORBELL.READ) || length === 0n || length > BigInt(MAX_DOORBELL_DMA_BYTES)) return { errno: 'EINVAL' };
    if (this.#view.getUint32(REG.DMA_STATUS, true) === DMA_STATUS.BUSY) return { errno: 'EINVAL' };
    this.#view.setUint32(REG.DMA_STATUS, DMA_STATUS.BUSY, true);
    const via = (doorbell & DOORBELL.BY_MESSAGES) !== 0 ? 'messages' : 'auto';
    const n = Number(length);
    // The doorbell write is answered at once; the DMA runs after it (it may need the client to
    // answer DMA messages), and DMA_STATUS / INTx say when it is done.
    this.#ctx.background('doorbell DMA', async () => {
      try {
        if (op === DOORBELL.WRITE) {
          await this.#ctx.dma.write(iova, new Uint8Array(n).fill(this.#regs[REG.DMA_PATTERN]!), via);
        } else {
          const bytes = await this.#ctx.dma.read(iova, n, via);
          this.#view.setUint32(REG.DMA_CHECKSUM, bytes.reduce((s, b) => (s + b) >>> 0, 0), true);
        }
        this.#view.setUint32(REG.DMA_STATUS, DMA_STATUS.DONE, true);
      } catch (error) {
        const errno = error instanceof VfioError ? error.errno : 'EIO';
        this.#view.setUint32(REG.DMA_STATUS, (DMA_STATUS.FAILED | ERRNO[errno]) >>> 0, true);
        throw error;
      } finally {
        if ((doorbell & DOORBELL.INTX_WHEN_DONE) !== 0) this.#ctx.raiseIntx();
      }
    });
    return { written: true };
  }

  reset(): void {
    this.#regs.fill(0);
    this.#view.setUint32(REG.ID, DEVICE_ID_VALUE, true);
  }

  entered(): void {}

  saveInitial(): Uint8Array {
    return this.#bar1.read(0, DMA_BAR1_BYTES);
  }

  saveFinal(): Uint8Array {
    const out = new Uint8Array(DMA_FINAL_STREAM_BYTES);
    const v = new DataView(out.buffer);
    v.setUint32(0, STREAM_MAGIC, true);
    v.setUint32(4, STREAM_VERSION, true);
    out.set(this.#regs, STREAM_HEADER_BYTES);
    out.set(this.#bar1.read(0, DMA_BAR1_BYTES), STREAM_HEADER_BYTES + REGISTER_FILE_BYTES);
    return out;
  }

  load(stream: Uint8Array): Checked<{ loaded: true }> {
    const v = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
    if (stream.length !== DMA_FINAL_STREAM_BYTES || v.getUint32(0, true) !== STREAM_MAGIC || v.getUint32(4, true) !== STREAM_VERSION) return { errno: 'EINVAL' };
    this.#regs.set(stream.subarray(STREAM_HEADER_BYTES, STREAM_HEADER_BYTES + REGISTER_FILE_BYTES));
    // A DMA in flight on the source is not part of the device's state.
    if (this.#view.getUint32(REG.DMA_STATUS, true) === DMA_STATUS.BUSY) this.#view.setUint32(REG.DMA_STATUS, DMA_STATUS.IDLE, true);
    this.#bar1.write(0, stream.subarray(STREAM_HEADER_BYTES + REGISTER_FILE_BYTES));
    return { loaded: true };
  }

  close(): void {
    this.#bar1.close();
  }
}
