// A short full round on the raw ABI: PROBE, START on three devices, DMA writes, one report set
// into one bitmap, STOP — printing what each step returned and the dirty pages found.
import { createHost } from '../../host/host.js';
import { logLevelFromEnv } from '../../host/options.js';
import { VfioError } from '../../errors.js';
import { EXIT, parseFlags } from '../args.js';

export const summary = 'run one logging round on four simulated devices and print each step';
export const help = `usage: dmalog demo

PROBEs four devices (mlx5, mlx5, pds, none), STARTs logging on the three that support it over
[0, 1 GiB) at 4 KiB, lets each write a few pages by DMA (and read some, which is never logged),
runs one report set into one shared bitmap and STOPs. Exit code 0 when the pages found are
exactly the pages written.

Each ioctl is also logged as one pino JSON line on stderr (DMALOG_LOG_LEVEL, default info;
DMALOG_LOG_LEVEL=silent turns it off).
`;

const KiB = 1024n;
const PAGE = 4n * KiB;

export async function run(argv: string[]): Promise<number> {
  parseFlags(argv, {});
  const host = await createHost({
    // The CLI's default is `info`: one pino line per PROBE/START/STOP/REPORT on stderr.
    logLevel: logLevelFromEnv('info'),
    devices: [
      { name: 'nic0', profile: 'mlx5', minPageSize: 4096, maxPageSize: 2 << 20, maxRanges: 4, maxAddressSpaceBits: 42 },
      { name: 'nic1', profile: 'mlx5', minPageSize: 8192, maxRanges: 4 },
      { name: 'nvme0', profile: 'pds', maxRanges: 8 },
      { name: 'legacy0', profile: 'none' },
    ],
  });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const logging = [];
    for (const name of host.deviceNames) {
      const ok = await host.device(name).probe();
      say(`PROBE  ${name.padEnd(8)} ${ok ? '0 (DMA logging supported)' : 'ENOTTY (no DMA logging)'}`);
      if (ok) logging.push(host.device(name));
    }
    const ranges = [{ iova: 0n, length: 1n << 30n }];
    for (const d of logging) {
      const chosen = await d.startLogging({ pageSize: PAGE, ranges });
      say(`START  ${d.name.padEnd(8)} 0, page size ${chosen} (hint ${PAGE})`);
    }
    const written = new Map<string, bigint[]>([
      ['nic0', [0x1000n, 0x2000n, 0x40000n]],
      ['nic1', [0x2000n, 0x10_0000n]], // an 8 KiB granule: reported as two 4 KiB pages
      ['nvme0', [0x3f_f000n]],
    ]);
    for (const d of logging) {
      for (const iova of written.get(d.name) ?? []) await d.dmaWrite(iova, PAGE);
      await d.dmaRead(0x80_0000n, 16n * PAGE);
      say(`DMA    ${d.name.padEnd(8)} wrote ${(written.get(d.name) ?? []).map(hex).join(', ')}; read 16 pages (not logged)`);
    }
    const window = { iova: 0n, length: 8n << 20n, pageSize: PAGE };
    const bitmap = host.alloc(Number(window.length / PAGE / 8n));
    const counts = await Promise.all(logging.map((d) => d.report({ ...window, bitmap })));
    logging.forEach((d, i) => say(`REPORT ${d.name.padEnd(8)} 0, set ${counts[i]} bits`));
    const found = dirtyPages(host.memory, bitmap, window.length / PAGE).map((n) => window.iova + n * PAGE);
    say(`dirty pages in the report set: ${found.map(hex).join(', ')}`);
    for (const d of logging) {
      await d.stopLogging();
      say(`STOP   ${d.name.padEnd(8)} 0`);
    }
    const expected = new Set<bigint>();
    for (const [name, iovas] of written) {
      const granule = name === 'nic1' ? 8192n : PAGE;
      for (const iova of iovas) for (let p = (iova / granule) * granule; p < (iova / granule + 1n) * granule; p += PAGE) expected.add(p);
    }
    const exact = found.length === expected.size && found.every((p) => expected.has(p));
    say(exact ? 'result: every written page was reported, nothing else' : 'result: MISMATCH between written and reported pages');
    return exact ? EXIT.ok : EXIT.failed;
  } catch (error) {
    if (error instanceof VfioError) say(`failed: ${error.message}`);
    throw error;
  } finally {
    await host.close();
  }
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

function dirtyPages(memory: SharedArrayBuffer, at: number, bits: bigint): bigint[] {
  const bytes = new Uint8Array(memory, at, Number((bits + 7n) / 8n));
  const out: bigint[] = [];
  bytes.forEach((b, i) => { for (let k = 0; k < 8; k++) if (b & (1 << k)) out.push(BigInt(i * 8 + k)); });
  return out;
}
