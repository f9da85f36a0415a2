// Hostile bytes through the codec: each class of malformed message gives its documented failure
// (reason, errno, and whether the session goes on), never a throw.
import test from 'ava';
import { parseCapabilities } from '../../src/vfio-user/capabilities.js';
import { decodeHeader, decodeMessage, type DecodeFailure, type DecodeOptions, encodeMessage, isDecodeFailure, type Message,
  nextFrame } from '../../src/vfio-user/codec.js';
import { DEFAULT_MAX_MESSAGE_BYTES, VFIO_USER } from '../../src/vfio-user/protocol.js';
import { bytesOf, fdsOf, senderOf, trace } from '../helpers/vfio-user-traces.js';

const source = trace('sample-client-source');
const fromClient: DecodeOptions = { from: 'client' };

function failureOf(bytes: Uint8Array, fds: readonly number[] = [], options: DecodeOptions = fromClient): DecodeFailure {
  const r = decodeMessage(bytes, fds, options);
  if (!isDecodeFailure(r)) throw new Error(`decoded as ${r.body.kind}`);
  return r;
}
function header(cmd: number, msgSize: number, flags = 0, errorNo = 0, msgId = 0x77): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, msgId, true); v.setUint16(2, cmd, true); v.setUint32(4, msgSize, true); v.setUint32(8, flags, true); v.setUint32(12, errorNo, true);
  return b;
}
function withPayload(cmd: number, payload: number[] | Uint8Array, flags = 0): Uint8Array {
  const p = Uint8Array.from(payload);
  const b = new Uint8Array(16 + p.length);
  b.set(header(cmd, b.length, flags));
  b.set(p, 16);
  return b;
}
const u32 = (...xs: number[]): number[] => xs.flatMap((x) => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, (x >>> 24) & 0xff]);
/** A recorded client request by command. */
const recorded = (cmd: number): Uint8Array => bytesOf(source.find((r) => r.decoded.header.cmd === cmd && r.dir === 'client->server')!);

function expect(t: import('ava').ExecutionContext, f: DecodeFailure, reason: DecodeFailure['reason'], action: DecodeFailure['action']): void {
  t.is(f.reason, reason, f.detail);
  t.is(f.action, action);
  t.is(f.errno, 'EINVAL');
  t.true(f.detail.length > 0);
}

test('short header: fewer than 16 bytes is close-session, no header to answer', (t) => {
  for (const n of [0, 1, 8, 15]) {
    const f = failureOf(recorded(VFIO_USER.DEVICE_GET_INFO).subarray(0, n));
    expect(t, f, 'short-header', 'close');
    t.is(f.header, null);
  }
  t.is((decodeHeader(new Uint8Array(8)) as DecodeFailure).reason, 'short-header');
});

test('msg_size below the header: EINVAL, then close (the body cannot be found)', (t) => {
  for (const size of [0, 1, 15]) {
    const f = failureOf(header(VFIO_USER.DEVICE_GET_INFO, size));
    expect(t, f, 'msg-size-too-small', 'reply-and-close');
    t.deepEqual(f.header, { msgId: 0x77, cmd: VFIO_USER.DEVICE_GET_INFO });
    t.deepEqual(nextFrame(header(VFIO_USER.DEVICE_GET_INFO, size)), f);
  }
});

test('msg_size past the limit: EINVAL, then close, before any body is awaited; the limit is an option', (t) => {
  expect(t, failureOf(header(VFIO_USER.REGION_WRITE, DEFAULT_MAX_MESSAGE_BYTES + 1)), 'msg-size-over-limit', 'reply-and-close');
  expect(t, failureOf(header(VFIO_USER.REGION_WRITE, 0xffffffff)), 'msg-size-over-limit', 'reply-and-close');
  t.is((nextFrame(header(VFIO_USER.REGION_WRITE, 0xffffffff)) as DecodeFailure).reason, 'msg-size-over-limit');
  // 1 MiB of data in one REGION_WRITE is the default limit exactly.
  t.is(DEFAULT_MAX_MESSAGE_BYTES, 16 + 16 + (1 << 20));
  t.deepEqual(nextFrame(header(VFIO_USER.REGION_WRITE, DEFAULT_MAX_MESSAGE_BYTES)), { kind: 'need', bytes: DEFAULT_MAX_MESSAGE_BYTES });
  const small = recorded(VFIO_USER.DEVICE_GET_INFO); // 32 bytes
  expect(t, failureOf(small, [], { from: 'client', maxMessageBytes: 31 }), 'msg-size-over-limit', 'reply-and-close');
  t.false(isDecodeFailure(decodeMessage(small, [], { from: 'client', maxMessageBytes: 32 })));
});

test('msg_size larger than the bytes that came (EOF in the body): close; more bytes than msg_size: EINVAL', (t) => {
  const whole = recorded(VFIO_USER.DEVICE_GET_INFO);
  const f = failureOf(whole.subarray(0, 24));
  expect(t, f, 'truncated', 'close');
  const longer = new Uint8Array(whole.length + 4);
  longer.set(whole);
  expect(t, failureOf(longer), 'size-mismatch', 'reply');
});

test('msg_size too small for the command: the struct is short, EINVAL, the session goes on', (t) => {
  // REGION_WRITE whose count says 8 but msg_size leaves no data; GET_INFO header-only; DMA_MAP cut to 24 bytes.
  expect(t, failureOf(withPayload(VFIO_USER.REGION_WRITE, [...u32(0, 0, 0, 8)])), 'bad-payload', 'reply');
  expect(t, failureOf(header(VFIO_USER.DEVICE_GET_INFO, 16)), 'bad-payload', 'reply');
  expect(t, failureOf(withPayload(VFIO_USER.DMA_MAP, recorded(VFIO_USER.DMA_MAP).subarray(16, 40)), [1]), 'bad-payload', 'reply');
  // A REGION_READ carrying data, a MIG_DATA_READ with more than its 8 bytes.
  expect(t, failureOf(withPayload(VFIO_USER.REGION_READ, [...u32(0, 0, 0, 4), 1, 2, 3, 4])), 'bad-payload', 'reply');
  expect(t, failureOf(withPayload(VFIO_USER.MIG_DATA_READ, [...u32(16, 8), 0])), 'bad-payload', 'reply');
  // An argsz below the bytes sent (the probe's START with argsz 8).
  expect(t, failureOf(withPayload(VFIO_USER.DEVICE_FEATURE, [...u32(8, 0x20006), ...u32(4096, 0, 0, 0)])), 'bad-payload', 'reply');
});

test('START whose num_ranges lies: more ranges claimed than bytes sent is EINVAL (no allocation for 2^32 ranges)', (t) => {
  for (const n of [1, 2, 0xffffffff]) {
    expect(t, failureOf(withPayload(VFIO_USER.DEVICE_FEATURE, [...u32(24, 0x20006), ...u32(4096, 0, n, 0)])), 'bad-payload', 'reply');
  }
  const ok = decodeMessage(withPayload(VFIO_USER.DEVICE_FEATURE, [...u32(40, 0x20006), ...u32(4096, 0, 1, 0), ...u32(0, 0, 0x4000, 0)]), [], fromClient) as Message;
  t.deepEqual(ok.body.kind === 'feature' && ok.body.data.kind === 'control' ? ok.body.data.ranges : null, [{ iova: 0n, length: 0x4000n }]);
});

test('unknown commands (0, 6, 14, 15, 19, 99, 0xffff): EINVAL, the session goes on', (t) => {
  for (const cmd of [0, 6, 14, 15, 19, 99, 0xffff]) {
    const f = failureOf(withPayload(cmd, u32(8, 0)));
    expect(t, f, 'unknown-command', 'reply');
    t.deepEqual(f.header, { msgId: 0x77, cmd });
  }
});

test('a reply where a command is expected, and commands going the wrong way: EINVAL', (t) => {
  // The client answering a command the server never sent (probe #287: a header-only GET_INFO "reply").
  expect(t, failureOf(header(VFIO_USER.DEVICE_GET_INFO, 16, 1)), 'unexpected-reply', 'reply');
  expect(t, failureOf(withPayload(VFIO_USER.VERSION, [0, 0, 2, 0], 1)), 'unexpected-reply', 'reply');
  // The server sending a reply to its own DMA_WRITE, the client sending DMA_READ, the server sending GET_INFO.
  const dmaWriteReply = withPayload(VFIO_USER.DMA_WRITE, [...u32(0, 0, 1024, 0)], 1);
  expect(t, failureOf(dmaWriteReply, [], { from: 'server' }), 'unexpected-reply', 'reply');
  t.false(isDecodeFailure(decodeMessage(dmaWriteReply, [], fromClient)));
  expect(t, failureOf(withPayload(VFIO_USER.DMA_READ, [...u32(0, 0, 1024, 0)])), 'wrong-direction', 'reply');
  expect(t, failureOf(recorded(VFIO_USER.DEVICE_GET_INFO), [], { from: 'server' }), 'wrong-direction', 'reply');
});

test('bad header flags: another type, reserved bits, ERROR on a command, NO_REPLY on a reply, an errno without ERROR', (t) => {
  const info = recorded(VFIO_USER.DEVICE_GET_INFO);
  const flagged = (flags: number, errorNo = 0): Uint8Array => {
    const b = info.slice();
    new DataView(b.buffer).setUint32(8, flags, true);
    new DataView(b.buffer).setUint32(12, errorNo, true);
    return b;
  };
  for (const [flags, errorNo] of [[2, 0], [0xf, 0], [0x40, 0], [0x80000000, 0], [0x20, 22], [0x11, 0], [0, 22]] as const) {
    expect(t, failureOf(flagged(flags, errorNo)), 'bad-flags', 'reply');
  }
  // NO_REPLY on a command is fine.
  t.true((decodeMessage(flagged(0x10), [], fromClient) as Message).header.noReply);
});

test('fds where none belong, too many, too few: EINVAL, the session goes on', (t) => {
  expect(t, failureOf(recorded(VFIO_USER.DEVICE_GET_INFO), [5]), 'unexpected-fds', 'reply');
  expect(t, failureOf(recorded(VFIO_USER.REGION_WRITE), [5, 6]), 'unexpected-fds', 'reply');
  expect(t, failureOf(recorded(VFIO_USER.VERSION), [5]), 'unexpected-fds', 'reply');
  // DMA_MAP takes one fd (libvfio-user takes two and closes the extra; dmalog refuses).
  expect(t, failureOf(recorded(VFIO_USER.DMA_MAP), [5, 6]), 'too-many-fds', 'reply');
  t.false(isDecodeFailure(decodeMessage(recorded(VFIO_USER.DMA_MAP), [], fromClient)), 'a map without an fd decodes');
  // More than the limit on any message, even one that takes fds.
  expect(t, failureOf(recorded(VFIO_USER.DMA_MAP), [1, 2, 3, 4, 5, 6, 7, 8, 9]), 'too-many-fds', 'reply');
  expect(t, failureOf(recorded(VFIO_USER.DMA_MAP), [1, 2], { from: 'client', maxFds: 1 }), 'too-many-fds', 'reply');
  // SET_IRQS with DATA_EVENTFD takes exactly count eventfds.
  const setIrqs = recorded(VFIO_USER.DEVICE_SET_IRQS);
  expect(t, failureOf(setIrqs, []), 'missing-fds', 'reply');
  expect(t, failureOf(setIrqs, [5, 6]), 'too-many-fds', 'reply');
  // An error reply carries no fd.
  const error = bytesOf(source[3]!);
  expect(t, failureOf(error, [5], { from: 'server' }), 'unexpected-fds', 'reply');
});

test('bad VERSION: no NUL, not UTF-8, not JSON, a capability of the wrong type: EINVAL, then close', (t) => {
  const version = (text: Uint8Array | string): Uint8Array =>
    withPayload(VFIO_USER.VERSION, [0, 0, 2, 0, ...(typeof text === 'string' ? new TextEncoder().encode(text) : text)]);
  for (const text of [
    '{"capabilities":{}}', // no NUL
    Uint8Array.of(0xff, 0xfe, 0), // not UTF-8
    '{"capabilities":\0', '\0', 'null\0', '[]\0',
    '{"capabilities":{"max_msg_fds":"8"}}\0', '{"capabilities":{"max_msg_fds":1.5}}\0', '{"capabilities":{"max_data_xfer_size":0}}\0',
    '{"capabilities":{"migration":{"pgsize":-4096}}}\0', '{"capabilities":{"twin_socket":{"supported":1}}}\0', '{"capabilities":[]}\0',
  ]) {
    expect(t, failureOf(version(text)), 'bad-version', 'reply-and-close');
  }
  expect(t, failureOf(withPayload(VFIO_USER.VERSION, [0, 0])), 'bad-version', 'reply-and-close');
  // Unknown keys are ignored; missing ones take the defaults.
  t.deepEqual(parseCapabilities('{"capabilities":{"max_dma_maps":9,"migration":{}},"other":1}'), { maxMsgFds: 1, maxDataXferSize: 1 << 20, migration: {}, twinSocket: null });
});

test('nextFrame cuts a recorded byte stream into its messages at every split point', (t) => {
  const messages = source.filter((r) => senderOf(r) === 'client').slice(0, 40);
  const stream = Buffer.concat(messages.map(bytesOf));
  // Feed the stream in pieces of 7 bytes; the frames found are exactly the recorded messages.
  const found: string[] = [];
  let buffered = new Uint8Array(0);
  for (let at = 0; at < stream.length; at += 7) {
    buffered = Uint8Array.from([...buffered, ...stream.subarray(at, at + 7)]);
    for (;;) {
      const f = nextFrame(buffered);
      if (isDecodeFailure(f)) return t.fail(f.detail);
      if (f.kind === 'need') {
        t.true(f.bytes > buffered.length);
        break;
      }
      found.push(Buffer.from(buffered.subarray(0, f.bytes)).toString('hex'));
      buffered = buffered.slice(f.bytes);
    }
  }
  t.deepEqual(found, messages.map((r) => r.hex));
  t.is(buffered.length, 0);
  t.deepEqual(nextFrame(new Uint8Array(5)), { kind: 'need', bytes: 16 });
});

test('encodeMessage writes what it is told, so tests can build lying messages; fds are not in the bytes', (t) => {
  const m = decodeMessage(recorded(VFIO_USER.DMA_MAP), [3], fromClient) as Message;
  t.is(m.fds.length, 1);
  t.deepEqual(encodeMessage(m), recorded(VFIO_USER.DMA_MAP));
  t.deepEqual(fdsOf(source.find((r) => r.decoded.header.cmd === VFIO_USER.DMA_MAP)!), [100]);
});
