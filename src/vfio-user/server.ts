// `startVfioUserServer`: a vfio-user server on an AF_UNIX stream socket. Each connection is one
// session (session.ts) of one device of the chosen kind, on a dmalog host of its own, so a real
// VMM client (QEMU, libvfio-user's samples/client, rust-vmm) drives dmalog's trackers over the
// wire. A session that ends badly ends alone; `close()` ends every session (STOP logging first),
// stops listening and unlinks the socket.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ProfileName } from '../device/profiles.js';
import { createLogger } from '../host/logger.js';
import { LOG_LEVELS, MAX_USER_MEMORY_BYTES, logLevelFromEnv, type LogLevel } from '../host/options.js';
import { TRANSPORT_KINDS, type TransportKind } from '../host/transport.js';
import { parseOptions } from '../util/options.js';
import type { DeviceFactory } from './device-model.js';
import { createDmaDevice } from './devices/dma-device.js';
import { createSampleDevice } from './devices/sample.js';
import { DirtyBitDropper } from './logging-bridge.js';
import { QUIRKS, QUIRKS_NAMES, type QuirksName } from './quirks.js';
import { Session } from './session.js';
import { listenUnix, type UnixListener } from './unix-socket.js';

export type ServeDevice = ProfileName | 'sample';
export const SERVE_DEVICES: readonly ServeDevice[] = ['mlx5', 'pds', 'none', 'sample'];

export interface VfioUserServerOptions {
  /** Path of the AF_UNIX socket; a stale socket file there is replaced. */
  socket: string;
  /** The device behind every session (default mlx5). `sample` is libvfio-user's sample device on an mlx5 tracker. */
  device?: ServeDevice;
  /** Whose rules the wire follows (default `kernel`; `libvfio-user` for the sample device). */
  quirks?: QuirksName;
  /** Lose the N-th dirty bit the server reports, counted over all sessions (testing a client's check). */
  dropDirtyBit?: number | null;
  /** pino level of the server's lines on stderr (default: $DMALOG_LOG_LEVEL, else silent). */
  logLevel?: LogLevel;
  /** How each session's host reaches its tracker (default: its own worker thread). */
  transport?: TransportKind;
  /** User memory of each session's host, where REPORT bitmaps are laid out (default 16 MiB). */
  userMemoryBytes?: number;
  /** End the server once its first session has ended (a server a client execs for one session). */
  exitAfterSession?: boolean;
}

export const serverSchema = z.strictObject({
  // sun_path holds 108 bytes with its NUL: the limit is on the path's UTF-8 bytes, not its characters.
  socket: z.string().min(1, 'must be a non-empty path')
    .refine((p) => Buffer.byteLength(p, 'utf8') <= 107, 'must fit sun_path (at most 107 bytes in UTF-8)'),
  device: z.enum(SERVE_DEVICES as [ServeDevice, ...ServeDevice[]]).default('mlx5'),
  quirks: z.enum(QUIRKS_NAMES as [QuirksName, ...QuirksName[]]).optional(),
  dropDirtyBit: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).nullable().default(null),
  logLevel: z.enum(LOG_LEVELS as [LogLevel, ...LogLevel[]]).optional(),
  transport: z.enum(TRANSPORT_KINDS as [TransportKind, ...TransportKind[]]).default('worker'),
  userMemoryBytes: z.number().int().min(1 << 16).max(MAX_USER_MEMORY_BYTES).default(1 << 24),
  exitAfterSession: z.boolean().default(false),
});

export type FilledServerOptions = Omit<z.output<typeof serverSchema>, 'quirks' | 'logLevel'> & { quirks: QuirksName; logLevel: LogLevel };

export function fillServerOptions(options: VfioUserServerOptions): FilledServerOptions {
  const o = parseOptions(serverSchema, options);
  const logLevel = o.logLevel ?? logLevelFromEnv('silent');
  return { ...o, quirks: o.quirks ?? (o.device === 'sample' ? 'libvfio-user' : 'kernel'), logLevel };
}

/**
 * The session hosts' own level: their core logs every feature call at info, which the session's
 * DEVICE_FEATURE line already says (with the wire's view of it), so below `trace` they log only
 * errors (a tracker failing), and nothing when the server is silent.
 */
function hostLogLevel(level: LogLevel): LogLevel {
  if (level === 'trace' || level === 'silent' || level === 'fatal') return level;
  return 'error';
}

export async function startVfioUserServer(options: VfioUserServerOptions): Promise<VfioUserServer> {
  const filled = fillServerOptions(options);
  const { logger, flush } = createLogger(filled.logLevel);
  const server = new VfioUserServer(filled, logger, flush);
  await server.listen();
  return server;
}

export class VfioUserServer {
  readonly options: FilledServerOptions;
  readonly #logger: Logger;
  readonly #flush: () => void;
  readonly #sessions = new Set<Session>();
  readonly #dropper: DirtyBitDropper | null;
  readonly #device: DeviceFactory;
  #listener: UnixListener | null = null;
  #nextId = 1;
  #ended = 0;
  #closing: Promise<void> | null = null;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(options: FilledServerOptions, logger: Logger, flush: () => void) {
    this.options = options;
    this.#logger = logger.child({ socket: options.socket, device: options.device });
    this.#flush = flush;
    this.#dropper = options.dropDirtyBit === null ? null : new DirtyBitDropper(options.dropDirtyBit);
    this.#device = options.device === 'sample' ? createSampleDevice : createDmaDevice(options.device);
    this.closed = new Promise((resolve) => { this.#resolveClosed = resolve; });
  }

  get path(): string {
    return this.options.socket;
  }

  /** Sessions open now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Sessions ended so far. */
  get sessionsEnded(): number {
    return this.#ended;
  }

  /** Whether `--drop-dirty-bit` has dropped its bit yet. */
  get droppedDirtyBit(): boolean {
    return this.#dropper?.dropped ?? false;
  }

  async listen(): Promise<void> {
    this.#listener = await listenUnix(this.options.socket, (socket) => {
      if (this.#closing) { socket.close(); return; }
      const session = new Session(socket, {
        id: this.#nextId++,
        profile: this.options.device === 'sample' ? 'mlx5' : this.options.device,
        device: this.#device,
        quirks: QUIRKS[this.options.quirks],
        logger: this.#logger,
        dropper: this.#dropper,
        transport: this.options.transport,
        hostLogLevel: hostLogLevel(this.options.logLevel),
        userMemoryBytes: this.options.userMemoryBytes,
      });
      this.#sessions.add(session);
      this.#logger.info({ session: session.id }, 'session started');
      void session.closed.then(() => {
        this.#sessions.delete(session);
        this.#ended++;
        if (this.options.exitAfterSession) void this.close();
      });
    });
    this.#logger.info({ quirks: this.options.quirks, dropDirtyBit: this.options.dropDirtyBit }, 'listening');
  }

  /** End every session, stop listening, unlink the socket; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#listener?.close();
      await Promise.all([...this.#sessions].map((s) => s.close('server closing')));
      this.#logger.info({ sessions: this.#ended }, 'server closed');
      this.#flush();
      this.#resolveClosed();
    })();
    return this.#closing;
  }
}
