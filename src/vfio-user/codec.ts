// The vfio-user codec: bytes ⇄ typed messages, pure functions, no socket. Decoding is lossless
// (every byte of an accepted message is kept, so encodeMessage(decodeMessage(b)) is b again) and
// never throws on bad input: a malformed message is a DecodeFailure naming the errno to answer with
// and whether the session can go on. What a message *means* (is the region mapped, is the arc legal)
// is the server's business; the codec only checks what the bytes themselves can get wrong.
//
// Failure policy (libvfio-user answers an invalid header without reading the body, which desyncs
// the stream; dmalog frames by msg_size instead):
//   - fewer than 16 header bytes (EOF in a header), or fewer bytes than msg_size (EOF in a body):
//     close the session, no reply;
//   - msg_size < 16 or above the limit (DEFAULT_MAX_MESSAGE_BYTES unless told): reply EINVAL and close,
//     since the body cannot be found (too small) or will not be read (too large);
//   - a bad VERSION (no NUL, not JSON, a capability of the wrong type): reply EINVAL and close, as the
//     session never started;
//   - anything else (reserved flag bits, an unknown command, a reply or command going the wrong way,
//     a payload too short or too long for its struct, an argsz below the bytes sent, fds where none
//     belong, more fds than the command takes or than the limit): reply EINVAL, keep the session.
//     The server closes any fds that came with a refused message.
import { FEATURE_HEADER_BYTES, LOGGING_CONTROL_BYTES, LOGGING_RANGE_BYTES,
  LOGGING_REPORT_BYTES, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET } from '../uapi/abi.js';
import type { Errno } from '../uapi/errno.js';
import { decodeMigrationFlags, decodeMigState, encodeMigrationFlags, encodeMigState, MIG_STATE_BYTES,
  MIGRATION_FEATURE_BYTES } from '../uapi/migration.js';
import { decodeFeatureHeader, decodeLoggingControl, decodeLoggingRange, decodeLoggingReport, encodeFeatureHeader,
  encodeLoggingControl, encodeLoggingRange, encodeLoggingReport, type LoggingRange } from '../uapi/structs.js';
import { type Capabilities, parseCapabilities } from './capabilities.js';
import {
  commandName, DEFAULT_MAX_FDS, DEFAULT_MAX_MESSAGE_BYTES, DEVICE_INFO_BYTES, DMA_ACCESS_BYTES, DMA_BITMAP_BYTES,
  DMA_MAP_BYTES, DMA_UNMAP_BYTES, DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, FLAGS_ERROR, FLAGS_KNOWN_MASK, FLAGS_NO_REPLY,
  FLAGS_TYPE_COMMAND, FLAGS_TYPE_MASK, FLAGS_TYPE_REPLY, HEADER_BYTES, HEADER_CMD_OFFSET, HEADER_ERROR_NO_OFFSET,
  HEADER_FLAGS_OFFSET, HEADER_MSG_ID_OFFSET, HEADER_MSG_SIZE_OFFSET, INLINE_CONTROL_BYTES, INLINE_REPORT_BYTES,
  IRQ_INFO_BYTES, IRQ_SET_BYTES, IRQ_SET_DATA_EVENTFD, MIG_DATA_BYTES, REGION_ACCESS_BYTES, REGION_INFO_BYTES,
  VFIO_USER,
} from './protocol.js';

const LE = true;

export type MessageType = 'command' | 'reply';
/** Who sent a message: the client sends every command but DMA_READ/WRITE, the server those two. */
export type Peer = 'client' | 'server';

export interface Header {
  msgId: number;
  cmd: number;
  /** Header included. */
  msgSize: number;
  type: MessageType;
  noReply: boolean;
  error: boolean;
  /** A Linux errno number (only in an error reply). */
  errorNo: number;
}

/** DEVICE_FEATURE's data after the 8-byte vfio_device_feature header, by (feature, op). */
export type FeatureData =
  /** DMA_LOGGING_START (SET): the control struct, its ranges inline. */
  | { kind: 'control'; pageSize: bigint; numRanges: number; reserved: number; ranges: LoggingRange[]; tail: Uint8Array }
  /** DMA_LOGGING_REPORT (GET): the report struct; the reply appends the bitmap bytes. */
  | { kind: 'report'; iova: bigint; length: bigint; pageSize: bigint; bitmap: Uint8Array }
  /** MIG_DEVICE_STATE (SET both ways, GET reply). */
  | { kind: 'mig-state'; deviceState: number; dataFd: number; tail: Uint8Array }
  /** MIGRATION (GET reply). */
  | { kind: 'migration'; flags: bigint; tail: Uint8Array }
  /** Everything else: PROBE, STOP, GET requests, features dmalog does not implement. */
  | { kind: 'raw'; data: Uint8Array };

/** A message's payload; which kinds go with which command is in decodeMessage. */
export type Body =
  | { kind: 'version'; major: number; minor: number; json: string | null; capabilities?: Capabilities }
  | { kind: 'dma-map'; argsz: number; flags: number; offset: bigint; addr: bigint; size: bigint; tail: Uint8Array }
  /** `bitmap` iff flags has GET_DIRTY_BITMAP; a reply's tail holds the bitmap bytes. */
  | { kind: 'dma-unmap'; argsz: number; flags: number; addr: bigint; size: bigint; bitmap: { pgsize: bigint; size: bigint } | null; tail: Uint8Array }
  | { kind: 'device-info'; argsz: number; flags: number; numRegions: number; numIrqs: number; tail: Uint8Array }
  /** A reply's tail holds the capability chain. */
  | { kind: 'region-info'; argsz: number; flags: number; index: number; capOffset: number; size: bigint; offset: bigint; tail: Uint8Array }
  | { kind: 'irq-info'; argsz: number; flags: number; index: number; count: number; tail: Uint8Array }
  /** `data`: the bytes after the struct (DATA_BOOL's bools); eventfds travel as the message's fds. */
  | { kind: 'set-irqs'; argsz: number; flags: number; index: number; start: number; count: number; data: Uint8Array }
  /** REGION_READ/WRITE both ways; data is count bytes on a write command and a read reply, else empty. */
  | { kind: 'region-access'; offset: bigint; region: number; count: number; data: Uint8Array }
  /** DMA_READ/WRITE both ways; data is count bytes on a write command and a read reply, else empty. */
  | { kind: 'dma-access'; addr: bigint; count: bigint; data: Uint8Array }
  | { kind: 'reset'; tail: Uint8Array }
  | { kind: 'feature'; argsz: number; flags: number; data: FeatureData }
  /** MIG_DATA_READ/WRITE; a read reply is zero-padded to the requested size (`padding` bytes). */
  | { kind: 'mig-data'; argsz: number; size: number; data: Uint8Array; padding: number }
  /** A success reply that is the header alone. */
  | { kind: 'empty' }
  /** An error reply (header.error set); libvfio-user sometimes adds a payload, kept here. */
  | { kind: 'error'; payload: Uint8Array };

export interface Message { header: Header; fds: readonly number[]; body: Body }

/** What to build a message from: msg_size is computed, flags default to clear. */
export interface OutgoingMessage {
  header: Pick<Header, 'msgId' | 'cmd' | 'type'> & Partial<Pick<Header, 'noReply' | 'error' | 'errorNo'>>;
  fds?: readonly number[];
  body: Body;
}

export type DecodeFailureReason =
  | 'short-header' | 'msg-size-too-small' | 'msg-size-over-limit' | 'truncated' | 'size-mismatch'
  | 'bad-flags' | 'unknown-command' | 'wrong-direction' | 'unexpected-reply'
  | 'bad-payload' | 'bad-version'
  | 'unexpected-fds' | 'too-many-fds' | 'missing-fds';

/** reply: answer errno and go on; reply-and-close: answer, then end the session; close: end it, no reply. */
export type FailureAction = 'reply' | 'reply-and-close' | 'close';

export interface DecodeFailure {
  errno: Errno;
  reason: DecodeFailureReason;
  action: FailureAction;
  /** Where an error reply goes (null when not even a header arrived). */
  header: { msgId: number; cmd: number } | null;
  detail: string;
}

export interface DecodeOptions {
  /** Who sent the message. */
  from: Peer;
  /** Largest msg_size accepted (default DEFAULT_MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
  /** Most fds on one message (default DEFAULT_MAX_FDS). */
  maxFds?: number;
}

const ACTIONS: Record<DecodeFailureReason, FailureAction> = {
  'short-header': 'close',
  'truncated': 'close',
  'msg-size-too-small': 'reply-and-close',
  'msg-size-over-limit': 'reply-and-close',
  'bad-version': 'reply-and-close',
  'size-mismatch': 'reply',
  'bad-flags': 'reply',
  'unknown-command': 'reply',
  'wrong-direction': 'reply',
  'unexpected-reply': 'reply',
  'bad-payload': 'reply',
  'unexpected-fds': 'reply',
  'too-many-fds': 'reply',
  'missing-fds': 'reply',
};

export function isDecodeFailure(r: unknown): r is DecodeFailure {
  return typeof r === 'object' && r !== null && 'reason' in r && 'errno' in r;
}

function failure(reason: DecodeFailureReason, header: { msgId: number; cmd: number } | null, detail: string): DecodeFailure {
  return { errno: 'EINVAL', reason, action: ACTIONS[reason], header: header && { msgId: header.msgId, cmd: header.cmd }, detail };
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Header and framing

interface RawHeader { msgId: number; cmd: number; msgSize: number; flags: number; errorNo: number }

function readHeader(bytes: Uint8Array): RawHeader | DecodeFailure {
  if (bytes.length < HEADER_BYTES) return failure('short-header', null, `${bytes.length} of ${HEADER_BYTES} header bytes`);
  const v = viewOf(bytes);
  return {
    msgId: v.getUint16(HEADER_MSG_ID_OFFSET, LE),
    cmd: v.getUint16(HEADER_CMD_OFFSET, LE),
    msgSize: v.getUint32(HEADER_MSG_SIZE_OFFSET, LE),
    flags: v.getUint32(HEADER_FLAGS_OFFSET, LE),
    errorNo: v.getUint32(HEADER_ERROR_NO_OFFSET, LE),
  };
}

function checkSize(h: RawHeader, maxMessageBytes: number): DecodeFailure | null {
  if (h.msgSize < HEADER_BYTES) return failure('msg-size-too-small', h, `msg_size ${h.msgSize} is below the ${HEADER_BYTES}-byte header`);
  if (h.msgSize > maxMessageBytes) return failure('msg-size-over-limit', h, `msg_size ${h.msgSize} is above the limit ${maxMessageBytes}`);
  return null;
}

/**
 * The header at the start of `bytes`: its size is checked against the limit and its flags against
 * the protocol (a type other than command/reply, reserved bits, ERROR on a command, NO_REPLY on a
 * reply, an errno without ERROR are all refused).
 */
export function decodeHeader(bytes: Uint8Array, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): Header | DecodeFailure {
  const h = readHeader(bytes);
  if (isDecodeFailure(h)) return h;
  const sized = checkSize(h, maxMessageBytes);
  if (sized) return sized;
  const type = h.flags & FLAGS_TYPE_MASK;
  if (type !== FLAGS_TYPE_COMMAND && type !== FLAGS_TYPE_REPLY) return failure('bad-flags', h, `message type ${type}`);
  if ((h.flags & ~FLAGS_KNOWN_MASK) !== 0) return failure('bad-flags', h, `reserved flag bits 0x${((h.flags & ~FLAGS_KNOWN_MASK) >>> 0).toString(16)}`);
  const error = (h.flags & FLAGS_ERROR) !== 0;
  const noReply = (h.flags & FLAGS_NO_REPLY) !== 0;
  if (type === FLAGS_TYPE_COMMAND && error) return failure('bad-flags', h, 'ERROR set on a command');
  if (type === FLAGS_TYPE_REPLY && noReply) return failure('bad-flags', h, 'NO_REPLY set on a reply');
  if (!error && h.errorNo !== 0) return failure('bad-flags', h, `error_no ${h.errorNo} without ERROR`);
  return { msgId: h.msgId, cmd: h.cmd, msgSize: h.msgSize, type: type === FLAGS_TYPE_REPLY ? 'reply' : 'command', noReply, error, errorNo: h.errorNo };
}

export function encodeHeader(h: OutgoingMessage['header'], msgSize: number): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES);
  const v = viewOf(bytes);
  v.setUint16(HEADER_MSG_ID_OFFSET, h.msgId, LE);
  v.setUint16(HEADER_CMD_OFFSET, h.cmd, LE);
  v.setUint32(HEADER_MSG_SIZE_OFFSET, msgSize, LE);
  const flags = (h.type === 'reply' ? FLAGS_TYPE_REPLY : FLAGS_TYPE_COMMAND) | (h.noReply ? FLAGS_NO_REPLY : 0) | (h.error ? FLAGS_ERROR : 0);
  v.setUint32(HEADER_FLAGS_OFFSET, flags, LE);
  v.setUint32(HEADER_ERROR_NO_OFFSET, h.errorNo ?? 0, LE);
  return bytes;
}

export type Frame = { kind: 'need'; bytes: number } | { kind: 'message'; bytes: number };

/**
 * How a stream reader cuts the next message off `buffered` (the bytes received so far): wait for
 * more, take `bytes`, or fail (a msg_size below 16 or above the limit). At end of stream, a `need`
 * means the peer stopped inside a message: close.
 */
export function nextFrame(buffered: Uint8Array, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): Frame | DecodeFailure {
  if (buffered.length < HEADER_BYTES) return { kind: 'need', bytes: HEADER_BYTES };
  const h = readHeader(buffered) as RawHeader;
  const sized = checkSize(h, maxMessageBytes);
  if (sized) return sized;
  return buffered.length < h.msgSize ? { kind: 'need', bytes: h.msgSize } : { kind: 'message', bytes: h.msgSize };
}

// ---------------------------------------------------------------------------------------------
// Messages

/** Commands the server sends; the client sends all the others. */
const SERVER_COMMANDS: ReadonlySet<number> = new Set([VFIO_USER.DMA_READ, VFIO_USER.DMA_WRITE]);

/**
 * One whole message (`bytes.length` must be its msg_size) with the fds that came with it.
 * The typed result keeps copies, never views of `bytes`.
 */
export function decodeMessage(bytes: Uint8Array, fds: readonly number[], options: DecodeOptions): Message | DecodeFailure {
  const header = decodeHeader(bytes, options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  if (isDecodeFailure(header)) return header;
  if (bytes.length < header.msgSize) return failure('truncated', header, `${bytes.length} of ${header.msgSize} bytes`);
  if (bytes.length > header.msgSize) return failure('size-mismatch', header, `${bytes.length} bytes for msg_size ${header.msgSize}`);
  const name = commandName(header.cmd);
  // An error reply needs no layout: it answers whatever number was sent, unknown ones included.
  if (name === undefined && !(header.type === 'reply' && header.error && options.from === 'server')) {
    return failure('unknown-command', header, `command ${header.cmd}`);
  }
  const commander: Peer = SERVER_COMMANDS.has(header.cmd) ? 'server' : 'client';
  if (header.type === 'command' && commander !== options.from) return failure('wrong-direction', header, `${name} is sent by the ${commander}`);
  if (header.type === 'reply' && commander === options.from) return failure('unexpected-reply', header, `a ${name} reply from the ${options.from}`);
  const maxFds = options.maxFds ?? DEFAULT_MAX_FDS;
  if (fds.length > maxFds) return failure('too-many-fds', header, `${fds.length} fds, the limit is ${maxFds}`);
  const payload = bytes.slice(HEADER_BYTES);
  const body = header.error ? { kind: 'error' as const, payload }
    : header.type === 'reply' && payload.length === 0 ? { kind: 'empty' as const }
      : decodeBody(header, payload);
  if (isDecodeFailure(body)) return body;
  const [min, max] = fdRange(options.from, header, body, maxFds);
  if (fds.length > max) return failure(max === 0 ? 'unexpected-fds' : 'too-many-fds', header, `${fds.length} fds on ${name}, it takes at most ${max}`);
  if (fds.length < min) return failure('missing-fds', header, `${fds.length} fds on ${name}, it needs ${min}`);
  return { header, fds: [...fds], body };
}

/** How many fds a message may carry, [min, max]. */
function fdRange(from: Peer, header: Header, body: Body, maxFds: number): [number, number] {
  if (body.kind === 'error') return [0, 0];
  if (from === 'client' && header.type === 'command') {
    if (body.kind === 'dma-map') return [0, 1];
    if (body.kind === 'set-irqs' && (body.flags & IRQ_SET_DATA_EVENTFD) !== 0) return [body.count, body.count];
  }
  if (from === 'server' && header.type === 'reply') {
    if (body.kind === 'version') return [0, 1]; // the twin socket
    if (body.kind === 'region-info') return [0, maxFds]; // one per mmap-able area
  }
  return [0, 0];
}

function decodeBody(header: Header, p: Uint8Array): Body | DecodeFailure {
  const isCommand = header.type === 'command';
  const bad = (detail: string): DecodeFailure => failure('bad-payload', header, `${commandName(header.cmd)} ${header.type}: ${detail}`);
  const atLeast = (n: number): DecodeFailure | null => (p.length < n ? bad(`${p.length} payload bytes, the struct has ${n}`) : null);
  const exactly = (n: number): DecodeFailure | null => (p.length !== n ? bad(`${p.length} payload bytes, expected ${n}`) : null);
  /** A command's argsz covers at least its struct and everything it sent. */
  const argszCovers = (argsz: number, struct: number): DecodeFailure | null =>
    isCommand && (argsz < struct || argsz < p.length) ? bad(`argsz ${argsz} for ${p.length} payload bytes (struct ${struct})`) : null;
  const v = viewOf(p);
  switch (header.cmd) {
    case VFIO_USER.VERSION: {
      if (p.length < 4) return failure('bad-version', header, `${p.length} payload bytes, VERSION has 4 before its text`);
      const major = v.getUint16(0, LE), minor = v.getUint16(2, LE);
      if (p.length === 4) return { kind: 'version', major, minor, json: null, capabilities: parseCapabilities('{}') as Capabilities };
      if (p[p.length - 1] !== 0) return failure('bad-version', header, 'VERSION text does not end in NUL');
      let json: string;
      try {
        json = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(p.subarray(4, p.length - 1));
      } catch {
        return failure('bad-version', header, 'VERSION text is not UTF-8');
      }
      const capabilities = parseCapabilities(json);
      if ('problem' in capabilities) return failure('bad-version', header, capabilities.problem);
      return { kind: 'version', major, minor, json, capabilities };
    }
    case VFIO_USER.DMA_MAP: {
      if (!isCommand) return bad('the reply is the header alone');
      const short = atLeast(DMA_MAP_BYTES) ?? argszCovers(v.getUint32(0, LE), DMA_MAP_BYTES);
      if (short) return short;
      const argsz = v.getUint32(0, LE);
      return { kind: 'dma-map', argsz, flags: v.getUint32(4, LE), offset: v.getBigUint64(8, LE), addr: v.getBigUint64(16, LE), size: v.getBigUint64(24, LE), tail: p.slice(DMA_MAP_BYTES) };
    }
    case VFIO_USER.DMA_UNMAP: {
      const short = atLeast(DMA_UNMAP_BYTES);
      if (short) return short;
      const argsz = v.getUint32(0, LE), flags = v.getUint32(4, LE);
      const withBitmap = (flags & DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
      const struct = DMA_UNMAP_BYTES + (withBitmap ? DMA_BITMAP_BYTES : 0);
      const shortBitmap = atLeast(struct) ?? argszCovers(argsz, struct);
      if (shortBitmap) return shortBitmap;
      const bitmap = withBitmap ? { pgsize: v.getBigUint64(DMA_UNMAP_BYTES, LE), size: v.getBigUint64(DMA_UNMAP_BYTES + 8, LE) } : null;
      return { kind: 'dma-unmap', argsz, flags, addr: v.getBigUint64(8, LE), size: v.getBigUint64(16, LE), bitmap, tail: p.slice(struct) };
    }
    case VFIO_USER.DEVICE_GET_INFO: {
      const short = atLeast(DEVICE_INFO_BYTES) ?? argszCovers(v.getUint32(0, LE), DEVICE_INFO_BYTES);
      if (short) return short;
      return { kind: 'device-info', argsz: v.getUint32(0, LE), flags: v.getUint32(4, LE), numRegions: v.getUint32(8, LE), numIrqs: v.getUint32(12, LE), tail: p.slice(DEVICE_INFO_BYTES) };
    }
    case VFIO_USER.DEVICE_GET_REGION_INFO: {
      const short = atLeast(REGION_INFO_BYTES) ?? argszCovers(v.getUint32(0, LE), REGION_INFO_BYTES);
      if (short) return short;
      return {
        kind: 'region-info', argsz: v.getUint32(0, LE), flags: v.getUint32(4, LE), index: v.getUint32(8, LE), capOffset: v.getUint32(12, LE),
        size: v.getBigUint64(16, LE), offset: v.getBigUint64(24, LE), tail: p.slice(REGION_INFO_BYTES),
      };
    }
    case VFIO_USER.DEVICE_GET_IRQ_INFO: {
      const short = atLeast(IRQ_INFO_BYTES) ?? argszCovers(v.getUint32(0, LE), IRQ_INFO_BYTES);
      if (short) return short;
      return { kind: 'irq-info', argsz: v.getUint32(0, LE), flags: v.getUint32(4, LE), index: v.getUint32(8, LE), count: v.getUint32(12, LE), tail: p.slice(IRQ_INFO_BYTES) };
    }
    case VFIO_USER.DEVICE_SET_IRQS: {
      if (!isCommand) return bad('the reply is the header alone');
      const short = atLeast(IRQ_SET_BYTES) ?? argszCovers(v.getUint32(0, LE), IRQ_SET_BYTES);
      if (short) return short;
      return {
        kind: 'set-irqs', argsz: v.getUint32(0, LE), flags: v.getUint32(4, LE), index: v.getUint32(8, LE), start: v.getUint32(12, LE),
        count: v.getUint32(16, LE), data: p.slice(IRQ_SET_BYTES),
      };
    }
    case VFIO_USER.REGION_READ:
    case VFIO_USER.REGION_WRITE: {
      const short = atLeast(REGION_ACCESS_BYTES);
      if (short) return short;
      const count = v.getUint32(12, LE);
      // Data rides on a write command and on a read reply.
      const carries = isCommand === (header.cmd === VFIO_USER.REGION_WRITE);
      const sized = exactly(REGION_ACCESS_BYTES + (carries ? count : 0));
      if (sized) return sized;
      return { kind: 'region-access', offset: v.getBigUint64(0, LE), region: v.getUint32(8, LE), count, data: p.slice(REGION_ACCESS_BYTES) };
    }
    case VFIO_USER.DMA_READ:
    case VFIO_USER.DMA_WRITE: {
      const short = atLeast(DMA_ACCESS_BYTES);
      if (short) return short;
      const count = v.getBigUint64(8, LE);
      const carries = isCommand === (header.cmd === VFIO_USER.DMA_WRITE);
      if (BigInt(p.length - DMA_ACCESS_BYTES) !== (carries ? count : 0n)) return bad(`${p.length - DMA_ACCESS_BYTES} data bytes for count ${count}`);
      return { kind: 'dma-access', addr: v.getBigUint64(0, LE), count, data: p.slice(DMA_ACCESS_BYTES) };
    }
    case VFIO_USER.DEVICE_RESET:
      if (!isCommand) return bad('the reply is the header alone');
      return { kind: 'reset', tail: p.slice() };
    case VFIO_USER.DEVICE_FEATURE: {
      const short = atLeast(FEATURE_HEADER_BYTES);
      if (short) return short;
      const { argsz, flags } = decodeFeatureHeader(v, 0);
      const covered = argszCovers(argsz, FEATURE_HEADER_BYTES);
      if (covered) return covered;
      const data = decodeFeatureData(flags, header.type, p.subarray(FEATURE_HEADER_BYTES));
      if (typeof data === 'string') return bad(data);
      return { kind: 'feature', argsz, flags, data };
    }
    case VFIO_USER.MIG_DATA_READ:
    case VFIO_USER.MIG_DATA_WRITE: {
      const short = atLeast(MIG_DATA_BYTES);
      if (short) return short;
      const argsz = v.getUint32(0, LE), size = v.getUint32(4, LE);
      if (header.cmd === VFIO_USER.MIG_DATA_WRITE && !isCommand) return bad('the reply is the header alone');
      if (isCommand) {
        const carries = header.cmd === VFIO_USER.MIG_DATA_WRITE;
        const sized = exactly(MIG_DATA_BYTES + (carries ? size : 0)) ?? (argsz < MIG_DATA_BYTES + size ? bad(`argsz ${argsz} below 8 + size ${size}`) : null);
        if (sized) return sized;
        return { kind: 'mig-data', argsz, size, data: p.slice(MIG_DATA_BYTES), padding: 0 };
      }
      // A read reply: size bytes of stream, then zeros up to the size that was asked for.
      const data = atLeast(MIG_DATA_BYTES + size);
      if (data) return data;
      const padding = p.subarray(MIG_DATA_BYTES + size);
      if (padding.some((b) => b !== 0)) return bad('padding after the data is not zero');
      return { kind: 'mig-data', argsz, size, data: p.slice(MIG_DATA_BYTES, MIG_DATA_BYTES + size), padding: padding.length };
    }
    default:
      return failure('unknown-command', header, `command ${header.cmd}`);
  }
}

type FeatureLayout = FeatureData['kind'];

/** Which struct a DEVICE_FEATURE message carries, from its flags (feature index and op bits). */
export function featureLayout(flags: number, type: MessageType): FeatureLayout {
  const feature = flags & VFIO_DEVICE_FEATURE_MASK;
  const get = (flags & VFIO_DEVICE_FEATURE_GET) !== 0, set = (flags & VFIO_DEVICE_FEATURE_SET) !== 0;
  if ((flags & VFIO_DEVICE_FEATURE_PROBE) !== 0 || get === set) return 'raw';
  if (feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_START && set) return 'control';
  if (feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT && get) return 'report';
  if (feature === VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE && (set || type === 'reply')) return 'mig-state';
  if (feature === VFIO_DEVICE_FEATURE_MIGRATION && type === 'reply') return 'migration';
  return 'raw';
}

/**
 * The kernel's control and report structs end in a user pointer the wire does not carry; they are
 * decoded by the src/uapi decoders from a copy padded with a zero pointer.
 */
function padded(bytes: Uint8Array, take: number, size: number): DataView {
  const copy = new Uint8Array(size);
  copy.set(bytes.subarray(0, take));
  return viewOf(copy);
}

function decodeFeatureData(flags: number, type: MessageType, d: Uint8Array): FeatureData | string {
  const v = viewOf(d);
  switch (featureLayout(flags, type)) {
    case 'control': {
      if (d.length < INLINE_CONTROL_BYTES) return `${d.length} bytes for the ${INLINE_CONTROL_BYTES}-byte control struct`;
      const { pageSize, numRanges, reserved } = decodeLoggingControl(padded(d, INLINE_CONTROL_BYTES, LOGGING_CONTROL_BYTES), 0);
      const end = INLINE_CONTROL_BYTES + numRanges * LOGGING_RANGE_BYTES;
      if (d.length < end) return `num_ranges ${numRanges} needs ${end} bytes, ${d.length} came`;
      const ranges = Array.from({ length: numRanges }, (_, i) => decodeLoggingRange(v, INLINE_CONTROL_BYTES + i * LOGGING_RANGE_BYTES));
      return { kind: 'control', pageSize, numRanges, reserved, ranges, tail: d.slice(end) };
    }
    case 'report': {
      if (d.length < INLINE_REPORT_BYTES) return `${d.length} bytes for the ${INLINE_REPORT_BYTES}-byte report struct`;
      const { iova, length, pageSize } = decodeLoggingReport(padded(d, INLINE_REPORT_BYTES, LOGGING_REPORT_BYTES), 0);
      return { kind: 'report', iova, length, pageSize, bitmap: d.slice(INLINE_REPORT_BYTES) };
    }
    case 'mig-state': {
      if (d.length < MIG_STATE_BYTES) return `${d.length} bytes for the ${MIG_STATE_BYTES}-byte mig_state struct`;
      return { kind: 'mig-state', ...decodeMigState(v, 0), tail: d.slice(MIG_STATE_BYTES) };
    }
    case 'migration': {
      if (d.length < MIGRATION_FEATURE_BYTES) return `${d.length} bytes for the ${MIGRATION_FEATURE_BYTES}-byte migration struct`;
      return { kind: 'migration', flags: decodeMigrationFlags(v, 0), tail: d.slice(MIGRATION_FEATURE_BYTES) };
    }
    case 'raw':
      return { kind: 'raw', data: d.slice() };
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** The message's bytes; msg_size is computed. Encoding writes what it is given, lies included. */
export function encodeMessage(m: OutgoingMessage): Uint8Array {
  const payload = encodeBody(m.body);
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  out.set(encodeHeader(m.header, out.length), 0);
  out.set(payload, HEADER_BYTES);
  return out;
}

function concat(fixed: number, write: (v: DataView) => void, ...rest: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(fixed + rest.reduce((n, r) => n + r.length, 0));
  write(viewOf(out));
  let at = fixed;
  for (const r of rest) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

export function encodeBody(body: Body): Uint8Array {
  switch (body.kind) {
    case 'version': {
      const text = body.json === null ? new Uint8Array(0) : new TextEncoder().encode(`${body.json}\0`);
      return concat(4, (v) => { v.setUint16(0, body.major, LE); v.setUint16(2, body.minor, LE); }, text);
    }
    case 'dma-map':
      return concat(DMA_MAP_BYTES, (v) => {
        v.setUint32(0, body.argsz, LE); v.setUint32(4, body.flags, LE);
        v.setBigUint64(8, body.offset, LE); v.setBigUint64(16, body.addr, LE); v.setBigUint64(24, body.size, LE);
      }, body.tail);
    case 'dma-unmap':
      return concat(DMA_UNMAP_BYTES + (body.bitmap ? DMA_BITMAP_BYTES : 0), (v) => {
        v.setUint32(0, body.argsz, LE); v.setUint32(4, body.flags, LE);
        v.setBigUint64(8, body.addr, LE); v.setBigUint64(16, body.size, LE);
        if (body.bitmap) { v.setBigUint64(24, body.bitmap.pgsize, LE); v.setBigUint64(32, body.bitmap.size, LE); }
      }, body.tail);
    case 'device-info':
      return concat(DEVICE_INFO_BYTES, (v) => {
        v.setUint32(0, body.argsz, LE); v.setUint32(4, body.flags, LE); v.setUint32(8, body.numRegions, LE); v.setUint32(12, body.numIrqs, LE);
      }, body.tail);
    case 'region-info':
      return concat(REGION_INFO_BYTES, (v) => {
        v.setUint32(0, body.argsz, LE); v.setUint32(4, body.flags, LE); v.setUint32(8, body.index, LE); v.setUint32(12, body.capOffset, LE);
        v.setBigUint64(16, body.size, LE); v.setBigUint64(24, body.offset, LE);
      }, body.tail);
    case 'irq-info':
      return concat(IRQ_INFO_BYTES, (v) => {
        v.setUint32(0, body.argsz, LE); v.setUint32(4, body.flags, LE); v.setUint32(8, body.index, LE); v.setUint32(12, body.count, LE);
      }, body.tail);
    case 'set-irqs':
      return concat(IRQ_SET_BYTES, (v) => {
        v.setUint32(0, body.argsz, LE); v.setUint32(4, body.flags, LE); v.setUint32(8, body.index, LE);
        v.setUint32(12, body.start, LE); v.setUint32(16, body.count, LE);
      }, body.data);
    case 'region-access':
      return concat(REGION_ACCESS_BYTES, (v) => {
        v.setBigUint64(0, body.offset, LE); v.setUint32(8, body.region, LE); v.setUint32(12, body.count, LE);
      }, body.data);
    case 'dma-access':
      return concat(DMA_ACCESS_BYTES, (v) => { v.setBigUint64(0, body.addr, LE); v.setBigUint64(8, body.count, LE); }, body.data);
    case 'reset':
      return body.tail.slice();
    case 'feature':
      return concat(FEATURE_HEADER_BYTES, (v) => encodeFeatureHeader(v, 0, { argsz: body.argsz, flags: body.flags }), encodeFeatureData(body.data));
    case 'mig-data':
      return concat(MIG_DATA_BYTES, (v) => { v.setUint32(0, body.argsz, LE); v.setUint32(4, body.size, LE); }, body.data, new Uint8Array(body.padding));
    case 'empty':
      return new Uint8Array(0);
    case 'error':
      return body.payload.slice();
  }
}

/** Writes a kernel struct with its trailing pointer through the src/uapi encoder and cuts the pointer off. */
function unpadded(size: number, keep: number, write: (v: DataView) => void): Uint8Array {
  const scratch = new Uint8Array(size);
  write(viewOf(scratch));
  return scratch.slice(0, keep);
}

function encodeFeatureData(d: FeatureData): Uint8Array {
  switch (d.kind) {
    case 'control': {
      const control = unpadded(LOGGING_CONTROL_BYTES, INLINE_CONTROL_BYTES, (v) =>
        encodeLoggingControl(v, 0, { pageSize: d.pageSize, numRanges: d.numRanges, reserved: d.reserved, ranges: 0n }));
      const ranges = new Uint8Array(d.ranges.length * LOGGING_RANGE_BYTES);
      d.ranges.forEach((r, i) => encodeLoggingRange(viewOf(ranges), i * LOGGING_RANGE_BYTES, r));
      return concat(0, () => {}, control, ranges, d.tail);
    }
    case 'report': {
      const report = unpadded(LOGGING_REPORT_BYTES, INLINE_REPORT_BYTES, (v) =>
        encodeLoggingReport(v, 0, { iova: d.iova, length: d.length, pageSize: d.pageSize, bitmap: 0n }));
      return concat(0, () => {}, report, d.bitmap);
    }
    case 'mig-state':
      return concat(MIG_STATE_BYTES, (v) => encodeMigState(v, 0, d), d.tail);
    case 'migration':
      return concat(MIGRATION_FEATURE_BYTES, (v) => encodeMigrationFlags(v, 0, d.flags), d.tail);
    case 'raw':
      return d.data.slice();
  }
}
