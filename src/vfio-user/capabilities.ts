// VERSION's JSON: the capabilities a peer advertises, checked with one zod schema, and the text a
// reply carries. The reply is printed the way json-c prints (`{ "k": v, "o": { ... } }`) so that
// dmalog's VERSION reply can match libvfio-user's byte for byte.
import { z } from 'zod';
import { DEFAULT_MAX_DATA_XFER_SIZE, DEFAULT_MAX_MSG_FDS } from './protocol.js';

export interface Capabilities {
  /** Fds the peer accepts on one message. */
  maxMsgFds: number;
  /** The most data bytes the peer moves in one message (DMA_READ/WRITE, MIG_DATA_*). */
  maxDataXferSize: number;
  /** Present when the peer named `migration`; pgsize is the dirty-page granule it offers. */
  migration: { pgsize?: number; maxBitmapSize?: number } | null;
  twinSocket: { supported: boolean; fdIndex?: number } | null;
}

const count = z.number().int().nonnegative();
const positive = z.number().int().positive();

/** Unknown keys are ignored (peers add their own); a known key of the wrong type is refused. */
const versionJsonSchema = z.object({
  capabilities: z.object({
    max_msg_fds: count.optional(),
    max_data_xfer_size: positive.optional(),
    migration: z.object({ pgsize: positive.optional(), max_bitmap_size: positive.optional() }).optional(),
    twin_socket: z.object({ supported: z.boolean().optional(), fd_index: count.optional() }).optional(),
  }).optional(),
});

/** The capabilities in a VERSION text, or why the text is refused. */
export function parseCapabilities(text: string): Capabilities | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'VERSION text is not JSON' };
  }
  const parsed = versionJsonSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { problem: `VERSION capabilities${issue.path.map((k) => `.${String(k)}`).join('')}: ${issue.message}` };
  }
  const c = parsed.data.capabilities ?? {};
  const migration = c.migration === undefined ? null : {
    ...(c.migration.pgsize !== undefined ? { pgsize: c.migration.pgsize } : {}),
    ...(c.migration.max_bitmap_size !== undefined ? { maxBitmapSize: c.migration.max_bitmap_size } : {}),
  };
  const twinSocket = c.twin_socket === undefined ? null : {
    supported: c.twin_socket.supported ?? false,
    ...(c.twin_socket.fd_index !== undefined ? { fdIndex: c.twin_socket.fd_index } : {}),
  };
  return {
    maxMsgFds: c.max_msg_fds ?? DEFAULT_MAX_MSG_FDS,
    maxDataXferSize: c.max_data_xfer_size ?? DEFAULT_MAX_DATA_XFER_SIZE,
    migration,
    twinSocket,
  };
}

/** The VERSION text for `caps`, keys in libvfio-user's order, spaced as json-c prints. */
export function formatCapabilities(caps: Capabilities): string {
  const inner: Record<string, unknown> = { max_msg_fds: caps.maxMsgFds, max_data_xfer_size: caps.maxDataXferSize };
  if (caps.migration) {
    inner.migration = {
      ...(caps.migration.pgsize !== undefined ? { pgsize: caps.migration.pgsize } : {}),
      ...(caps.migration.maxBitmapSize !== undefined ? { max_bitmap_size: caps.migration.maxBitmapSize } : {}),
    };
  }
  if (caps.twinSocket) {
    inner.twin_socket = {
      supported: caps.twinSocket.supported,
      ...(caps.twinSocket.fdIndex !== undefined ? { fd_index: caps.twinSocket.fdIndex } : {}),
    };
  }
  return jsonC({ capabilities: inner });
}

function jsonC(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${jsonC(v)}`);
    return entries.length === 0 ? '{ }' : `{ ${entries.join(', ')} }`;
  }
  return JSON.stringify(value);
}
