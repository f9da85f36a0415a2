// `dmalog serve`: a vfio-user server on an AF_UNIX socket, so VMM clients in other processes
// (QEMU, libvfio-user, rust-vmm) drive a simulated device and its dirty log over the wire.
import { logLevelFromEnv } from '../../host/options.js';
import { QUIRKS_NAMES } from '../../vfio-user/quirks.js';
import { SERVE_DEVICES, startVfioUserServer, type ServeDevice } from '../../vfio-user/server.js';
import { EXIT, parseChoice, parseFlags, parseIntArg, parseSize, UsageError } from '../args.js';

export const summary = 'serve a simulated device to vfio-user clients on a unix socket';
export const help = `usage: dmalog serve --socket PATH [--device mlx5|pds|none|sample] [--quirks kernel|libvfio-user]
                    [--drop-dirty-bit N] [--memory SIZE] [--once]

Listens on PATH (AF_UNIX, SOCK_STREAM) and serves one simulated device per connection: its own
dmalog host and tracker thread, DMA logging through the host's ioctl path (DEVICE_FEATURE START,
STOP, REPORT), migration v2 (PRE_COPY, STOP_COPY, RESUMING), region access, IRQs by eventfd,
DMA map/unmap. A stale socket file at PATH is replaced.

options:
  --socket PATH        the socket to listen on (required; at most 107 bytes)
  --device KIND        mlx5 (default), pds or none: a DMA device with a register file in BAR0 in
                       front of that tracker profile; sample: the device libvfio-user's
                       samples/client expects (on an mlx5 tracker)
  --quirks MODE        kernel (default): the kernel's uAPI rules; libvfio-user: libvfio-user's
                       (the default with --device sample). See README, "vfio-user".
  --drop-dirty-bit N   lose the N-th dirty bit reported, counted over all sessions, to check that a
                       client catches a lost bit (default: off)
  --memory SIZE        user memory of each session's host, where REPORT bitmaps are laid out
                       (default 16M)
  --once               exit once the first session has ended (a server a client starts for itself)

Runs until SIGINT or SIGTERM, which end every session (logging STOPped, fds closed) and unlink
the socket. Logs are pino JSON lines on stderr: one per message at debug, one per DEVICE_FEATURE
and per session at info (DMALOG_LOG_LEVEL, default info; silent turns them off).

exit codes: ${EXIT.ok} ended by a signal or by --once, ${EXIT.usage} bad usage or a socket path that cannot be used,
  ${EXIT.internal} an internal error.
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    socket: { type: 'string' },
    device: { type: 'string' },
    quirks: { type: 'string' },
    'drop-dirty-bit': { type: 'string' },
    memory: { type: 'string' },
    once: { type: 'boolean' },
  });
  if (values.socket === undefined) throw new UsageError('--socket: a socket path is required');
  const memory = values.memory === undefined ? 1 << 24 : parseSize(values.memory, '--memory');
  if (memory < 1n << 16n || memory > 1n << 32n) throw new UsageError(`--memory: '${values.memory}' must be within 64K..4G`);
  const server = await startVfioUserServer({
    socket: values.socket,
    device: values.device === undefined ? 'mlx5' : parseChoice<ServeDevice>(values.device, '--device', SERVE_DEVICES),
    ...(values.quirks === undefined ? {} : { quirks: parseChoice(values.quirks, '--quirks', QUIRKS_NAMES) }),
    dropDirtyBit: values['drop-dirty-bit'] === undefined ? null : parseIntArg(values['drop-dirty-bit'], '--drop-dirty-bit', 1),
    logLevel: logLevelFromEnv('info'),
    userMemoryBytes: Number(memory),
    exitAfterSession: values.once === true,
  }).catch((error: NodeJS.ErrnoException) => {
    if (typeof error.code === 'string' && /^E[A-Z]+$/.test(error.code)) throw new UsageError(`--socket: '${values.socket}': ${error.code} (${error.message})`);
    throw error;
  });
  const stop = () => { void server.close(); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await server.closed;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  return EXIT.ok;
}
