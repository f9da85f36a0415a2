// `--device sample`: the device libvfio-user's samples/client expects (its samples/server), as
// recorded: PCI dead:beef / cafe:babe, BAR0 an 8-byte time_t timer, BAR1 12 KiB of memory the
// client mmaps (two sparse areas), INTx, and a DMA round after each timer expiry. Migration
// streams BAR1 in PRE_COPY (12 × 1 KiB at the sample client's chunk size) and BAR1 + BAR0 in
// STOP_COPY (12296 bytes).
//
// Unlike the sample server, the timer fires at once when the time it was set for has come
// (a delta ≤ 0), instead of silently disarming (0) or failing the write (< 0).
import { VFIO_DEVICE_STATE } from '../../uapi/migration.js';
import type { Checked } from '../../util/result.js';
import {
  BackingFile, configRead, configWrite, pciConfigSpace, REGION, type DeviceContext, type DeviceModel, type IrqDescription,
  type RegionDescription,
} from '../device-model.js';
import type { MigrationState } from '../migration-state.js';
import { IRQ_INFO_EVENTFD, REGION_INFO_FLAG_MMAP, REGION_INFO_FLAG_READ, REGION_INFO_FLAG_WRITE } from '../protocol.js';

export const SAMPLE_PCI_IDS = { vendor: 0xdead, device: 0xbeef, subVendor: 0xcafe, subDevice: 0xbabe };
export const SAMPLE_BAR0_BYTES = 8;
export const SAMPLE_BAR1_BYTES = 12288;
/** STOP_COPY's stream: BAR1, then BAR0's time_t. */
export const SAMPLE_FINAL_STREAM_BYTES = SAMPLE_BAR1_BYTES + SAMPLE_BAR0_BYTES;
/** The DMA round: 4 × 1 KiB written, read back in 2 × 2 KiB, per slot. */
const DMA_CHUNK = 1024;
const DMA_CHUNKS = 4;

const RW = REGION_INFO_FLAG_READ | REGION_INFO_FLAG_WRITE;
const IRQS: IrqDescription[] = [
  { flags: IRQ_INFO_EVENTFD, count: 1 }, // INTx
  { flags: IRQ_INFO_EVENTFD, count: 0 }, // MSI
  { flags: IRQ_INFO_EVENTFD, count: 0 }, // MSI-X
  { flags: IRQ_INFO_EVENTFD, count: 1 }, // ERR
  { flags: IRQ_INFO_EVENTFD, count: 1 }, // REQ
];

export function createSampleDevice(ctx: DeviceContext): DeviceModel {
  return new SampleDevice(ctx);
}

class SampleDevice implements DeviceModel {
  readonly name = 'sample';
  readonly resumeBytes = SAMPLE_FINAL_STREAM_BYTES;
  readonly #ctx: DeviceContext;
  readonly #config = pciConfigSpace(SAMPLE_PCI_IDS);
  readonly #bar1 = new BackingFile(SAMPLE_BAR1_BYTES);
  #bar0 = 0n;
  #running = true;
  #restored = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(ctx: DeviceContext) {
    this.#ctx = ctx;
  }

  region(index: number): RegionDescription | null {
    switch (index) {
      case REGION.BAR0: return { flags: RW, size: BigInt(SAMPLE_BAR0_BYTES) };
      case REGION.BAR1: return {
        flags: RW | REGION_INFO_FLAG_MMAP, size: BigInt(SAMPLE_BAR1_BYTES),
        mmap: { areas: [{ offset: 0n, size: 0x1000n }, { offset: 0x2000n, size: 0x1000n }], fd: this.#bar1.fd },
      };
      case REGION.CONFIG: return { flags: RW, size: BigInt(this.#config.length) };
      default: return index >= 0 && index <= REGION.VGA ? { flags: 0, size: 0n } : null;
    }
  }

  irq(index: number): IrqDescription | null {
    return IRQS[index] ?? null;
  }

  read(index: number, offset: bigint, count: number): Checked<Uint8Array> {
    switch (index) {
      case REGION.BAR0: {
        if (offset !== 0n || count !== SAMPLE_BAR0_BYTES) return { errno: 'EINVAL' };
        const out = new Uint8Array(8);
        new DataView(out.buffer).setBigInt64(0, BigInt(this.#ctx.nowSeconds()) - this.#bar0, true);
        return out;
      }
      case REGION.BAR1:
        if (offset < 0n || offset + BigInt(count) > BigInt(SAMPLE_BAR1_BYTES)) return { errno: 'EINVAL' };
        return this.#bar1.read(Number(offset), count);
      case REGION.CONFIG:
        return configRead(this.#config, offset, count);
      default:
        return { errno: 'EINVAL' };
    }
  }

  write(index: number, offset: bigint, data: Uint8Array): Checked<{ written: true }> {
    switch (index) {
      case REGION.BAR0: {
        if (offset !== 0n || data.length !== SAMPLE_BAR0_BYTES) return { errno: 'EINVAL' };
        this.#bar0 = new DataView(data.buffer, data.byteOffset, 8).getBigInt64(0, true);
        if (this.#running) this.#arm();
        return { written: true };
      }
      case REGION.BAR1:
        if (offset < 0n || offset + BigInt(data.length) > BigInt(SAMPLE_BAR1_BYTES)) return { errno: 'EINVAL' };
        this.#bar1.write(Number(offset), data);
        return { written: true };
      case REGION.CONFIG:
        return configWrite(this.#config, offset, data);
      default:
        return { errno: 'EINVAL' };
    }
  }

  reset(): void {
    this.#disarm();
    this.#bar0 = 0n;
    this.#running = true;
  }

  entered(state: MigrationState): void {
    const running = state === VFIO_DEVICE_STATE.RUNNING || state === VFIO_DEVICE_STATE.PRE_COPY;
    if (!running) this.#disarm();
    // A restored device picks its timer up where the source left it.
    if (state === VFIO_DEVICE_STATE.RUNNING && this.#restored) {
      this.#restored = false;
      this.#arm();
    }
    this.#running = running;
  }

  saveInitial(): Uint8Array {
    return this.#bar1.read(0, SAMPLE_BAR1_BYTES);
  }

  saveFinal(): Uint8Array {
    const out = new Uint8Array(SAMPLE_FINAL_STREAM_BYTES);
    out.set(this.#bar1.read(0, SAMPLE_BAR1_BYTES));
    new DataView(out.buffer).setBigInt64(SAMPLE_BAR1_BYTES, this.#bar0, true);
    return out;
  }

  load(stream: Uint8Array): Checked<{ loaded: true }> {
    if (stream.length !== SAMPLE_FINAL_STREAM_BYTES) return { errno: 'EINVAL' };
    this.#bar1.write(0, stream.subarray(0, SAMPLE_BAR1_BYTES));
    this.#bar0 = new DataView(stream.buffer, stream.byteOffset + SAMPLE_BAR1_BYTES, 8).getBigInt64(0, true);
    this.#restored = true;
    return { loaded: true };
  }

  close(): void {
    this.#disarm();
    this.#bar1.close();
  }

  /** One-shot, in whole seconds from now, as setitimer(value − time(NULL)); at once when due. */
  #arm(): void {
    this.#disarm();
    const delta = Number(this.#bar0 - BigInt(this.#ctx.nowSeconds()));
    const fire = () => {
      this.#timer = null;
      this.#ctx.raiseIntx();
      this.#ctx.background('sample DMA round', () => this.#dmaRound());
    };
    this.#timer = setTimeout(fire, delta <= 0 ? 0 : Math.min(delta * 1000, 2 ** 31 - 1));
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /**
   * Slot 1 (the second region still mapped) directly through its fd, slot 0 by DMA_WRITE /
   * DMA_READ messages: 4 × 1 KiB of 'A'..'D' written, then read back as 2 × 2 KiB.
   */
  async #dmaRound(): Promise<void> {
    const regions = this.#ctx.dma.regions();
    if (regions.length < 2) {
      this.#ctx.logger.warn({ regions: regions.length }, 'sample DMA round needs two mapped regions');
      return;
    }
    const pass = async (iova: bigint, via: 'auto' | 'messages') => {
      const chunks = Array.from({ length: DMA_CHUNKS }, (_, i) => new Uint8Array(DMA_CHUNK).fill(0x41 + i));
      for (const [i, chunk] of chunks.entries()) await this.#ctx.dma.write(iova + BigInt(i * DMA_CHUNK), chunk, via);
      const half = (DMA_CHUNKS * DMA_CHUNK) / 2;
      for (let i = 0; i < 2; i++) {
        const back = await this.#ctx.dma.read(iova + BigInt(i * half), half, via);
        const want = new Uint8Array(half);
        want.set(chunks[2 * i]!, 0); want.set(chunks[2 * i + 1]!, DMA_CHUNK);
        if (!back.every((b, k) => b === want[k])) this.#ctx.logger.warn({ iova: `0x${(iova + BigInt(i * half)).toString(16)}` }, 'DMA read-back differs from what was written');
      }
    };
    await pass(regions[1]!.iova, 'auto');
    await pass(regions[0]!.iova, 'messages');
  }
}
