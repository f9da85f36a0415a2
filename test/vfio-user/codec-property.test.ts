// Properties of the codec: decoding never throws and is lossless on whatever it accepts, and
// encode then decode gives back every generated valid message.
import { deepStrictEqual } from 'node:assert';
import test from 'ava';
import fc from 'fast-check';
import { type Capabilities, formatCapabilities, parseCapabilities } from '../../src/vfio-user/capabilities.js';
import { type Body, decodeMessage, encodeMessage, type FeatureData, isDecodeFailure, type Message, type OutgoingMessage, type Peer } from '../../src/vfio-user/codec.js';
import { VFIO_USER } from '../../src/vfio-user/protocol.js';

const u16 = fc.nat({ max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const bytes = (max = 48) => fc.uint8Array({ maxLength: max });
const known = Object.values(VFIO_USER) as number[];

test('decode never throws: arbitrary bytes, arbitrary fds, either sender', (t) => {
  fc.assert(fc.property(bytes(96), fc.array(fc.nat(), { maxLength: 12 }), fc.constantFrom<Peer>('client', 'server'), (b, fds, from) => {
    const r = decodeMessage(b, fds, { from });
    return isDecodeFailure(r) ? typeof r.errno === 'string' && r.detail.length > 0 : r.header.msgSize === b.length;
  }), { numRuns: 3000 });
  t.pass();
});

/** A header that frames its payload correctly, with a known command and any flags, then random bytes. */
const framed = fc.record({
  msgId: u16,
  cmd: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: u16 }),
  flags: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(0, 1, 0x10, 0x21) }, { weight: 1, arbitrary: u32 }),
  errorNo: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: u32 }), payload: bytes(64), fds: fc.nat({ max: 3 }), from: fc.constantFrom<Peer>('client', 'server'),
}).map((m) => {
  const b = new Uint8Array(16 + m.payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, m.msgId, true); v.setUint16(2, m.cmd, true); v.setUint32(4, b.length, true); v.setUint32(8, m.flags, true); v.setUint32(12, m.errorNo, true);
  b.set(m.payload, 16);
  return { bytes: b, fds: Array.from({ length: m.fds }, (_, i) => i + 3), from: m.from };
});

test('decode is lossless: whatever decodes re-encodes to the very same bytes (random framed messages)', (t) => {
  let accepted = 0;
  fc.assert(fc.property(framed, ({ bytes: b, fds, from }) => {
    const r = decodeMessage(b, fds, { from });
    if (isDecodeFailure(r)) return true;
    accepted++;
    return Buffer.from(encodeMessage(r)).equals(Buffer.from(b)) && r.fds.length === fds.length;
  }), { numRuns: 5000 });
  t.true(accepted > 100, `${accepted} random messages were accepted`);
});

// ---- generated valid messages --------------------------------------------------------------------

const caps: fc.Arbitrary<Capabilities> = fc.record({
  maxMsgFds: fc.nat({ max: 1024 }), maxDataXferSize: fc.integer({ min: 1, max: 1 << 30 }),
  migration: fc.option(fc.record({ pgsize: fc.integer({ min: 1, max: 1 << 21 }) }), { nil: null }),
  twinSocket: fc.option(fc.record({ supported: fc.boolean(), fdIndex: fc.nat({ max: 8 }) }), { nil: null }),
});

interface Case { from: Peer; message: OutgoingMessage; fds: number[] }

const command = (cmd: number, body: Body, fds: number[] = []) => ({ from: (cmd === VFIO_USER.DMA_READ || cmd === VFIO_USER.DMA_WRITE ? 'server' : 'client') as Peer, cmd, type: 'command' as const, body, fds });
const reply = (cmd: number, body: Body, fds: number[] = []) => ({ from: (cmd === VFIO_USER.DMA_READ || cmd === VFIO_USER.DMA_WRITE ? 'client' : 'server') as Peer, cmd, type: 'reply' as const, body, fds });

/** argsz covering the payload, as a valid request's must. */
const argszFor = (payload: number) => fc.integer({ min: payload, max: payload + 4096 });

const featureData: fc.Arbitrary<{ flags: number; data: FeatureData; type: 'command' | 'reply' }> = fc.oneof(
  fc.record({ pageSize: u64, reserved: u32, ranges: fc.array(fc.record({ iova: u64, length: u64 }), { maxLength: 4 }), tail: bytes(8), type: fc.constantFrom('command' as const, 'reply' as const) })
    .map(({ ranges, type, ...c }) => ({ flags: 0x20006, type, data: { kind: 'control' as const, ...c, numRanges: ranges.length, ranges: ranges.map((r) => ({ ...r })) } })),
  fc.record({ iova: u64, length: u64, pageSize: u64, bitmap: bytes(24) })
    .chain((r) => fc.constantFrom('command' as const, 'reply' as const).map((type) => ({
      flags: 0x10008, type, data: { kind: 'report' as const, ...r, bitmap: type === 'command' ? new Uint8Array(0) : r.bitmap },
    }))),
  fc.record({ deviceState: u32, dataFd: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), tail: bytes(8), type: fc.constantFrom('command' as const, 'reply' as const) })
    .map(({ type, ...s }) => ({ flags: 0x20002, type, data: { kind: 'mig-state' as const, ...s } })),
  fc.record({ flags: u64, tail: bytes(8) }).map((m) => ({ flags: 0x10001, type: 'reply' as const, data: { kind: 'migration' as const, ...m } })),
  fc.record({ feature: u16, op: fc.constantFrom(0x40000, 0x50000, 0x60000, 0), data: bytes(16), type: fc.constantFrom('command' as const, 'reply' as const) })
    .map(({ feature, op, data, type }) => ({ flags: feature | op, type, data: { kind: 'raw' as const, data } })),
);

const body = fc.oneof(
  fc.record({ major: u16, minor: u16, json: fc.option(caps.map(formatCapabilities), { nil: null }), type: fc.constantFrom('command' as const, 'reply' as const), twin: fc.boolean() })
    .map(({ type, twin, ...v }) => {
      const b: Body = { kind: 'version', ...v, capabilities: parseCapabilities(v.json ?? '{}') as Capabilities };
      return type === 'command' ? command(VFIO_USER.VERSION, b) : reply(VFIO_USER.VERSION, b, twin ? [7] : []);
    }),
  fc.record({ extra: fc.nat({ max: 8 }), flags: u32, offset: u64, addr: u64, size: u64, fd: fc.boolean() }).chain((m) =>
    argszFor(32 + m.extra).map((argsz) => command(VFIO_USER.DMA_MAP, { kind: 'dma-map', argsz, flags: m.flags, offset: m.offset, addr: m.addr, size: m.size, tail: new Uint8Array(m.extra) }, m.fd ? [9] : []))),
  fc.record({ bitmap: fc.option(fc.record({ pgsize: u64, size: u64 }), { nil: null }), flags: u32, addr: u64, size: u64, tail: bytes(16), type: fc.constantFrom('command' as const, 'reply' as const) })
    .chain((m) => {
      const flags = m.bitmap ? m.flags | 1 : m.flags & ~1;
      const fixed = 24 + (m.bitmap ? 16 : 0) + m.tail.length;
      return argszFor(fixed).map((argsz) => {
        const b: Body = { kind: 'dma-unmap', argsz, flags: flags >>> 0, addr: m.addr, size: m.size, bitmap: m.bitmap && { ...m.bitmap }, tail: m.tail };
        return m.type === 'command' ? command(VFIO_USER.DMA_UNMAP, b) : reply(VFIO_USER.DMA_UNMAP, b);
      });
    }),
  fc.record({ flags: u32, numRegions: u32, numIrqs: u32, tail: bytes(8), type: fc.constantFrom('command' as const, 'reply' as const) }).chain((m) =>
    argszFor(16 + m.tail.length).map((argsz) => {
      const b: Body = { kind: 'device-info', argsz, flags: m.flags, numRegions: m.numRegions, numIrqs: m.numIrqs, tail: m.tail };
      return m.type === 'command' ? command(VFIO_USER.DEVICE_GET_INFO, b) : reply(VFIO_USER.DEVICE_GET_INFO, b);
    })),
  fc.record({ flags: u32, index: u32, capOffset: u32, size: u64, offset: u64, tail: bytes(64), fds: fc.nat({ max: 2 }), type: fc.constantFrom('command' as const, 'reply' as const) }).chain((m) =>
    argszFor(32 + m.tail.length).map((argsz) => {
      const b: Body = { kind: 'region-info', argsz, flags: m.flags, index: m.index, capOffset: m.capOffset, size: m.size, offset: m.offset, tail: m.tail };
      return m.type === 'command' ? command(VFIO_USER.DEVICE_GET_REGION_INFO, b) : reply(VFIO_USER.DEVICE_GET_REGION_INFO, b, Array.from({ length: m.fds }, (_, i) => 20 + i));
    })),
  fc.record({ flags: u32, index: u32, count: u32, tail: bytes(8), type: fc.constantFrom('command' as const, 'reply' as const) }).chain((m) =>
    argszFor(16 + m.tail.length).map((argsz) => {
      const b: Body = { kind: 'irq-info', argsz, flags: m.flags, index: m.index, count: m.count, tail: m.tail };
      return m.type === 'command' ? command(VFIO_USER.DEVICE_GET_IRQ_INFO, b) : reply(VFIO_USER.DEVICE_GET_IRQ_INFO, b);
    })),
  fc.record({ eventfd: fc.boolean(), flags: u32, index: u32, start: u32, count: fc.nat({ max: 8 }), data: bytes(8) }).chain((m) =>
    argszFor(20 + m.data.length).map((argsz) => {
      const flags = (m.eventfd ? m.flags | 4 : m.flags & ~4) >>> 0;
      return command(VFIO_USER.DEVICE_SET_IRQS, { kind: 'set-irqs', argsz, flags, index: m.index, start: m.start, count: m.count, data: m.data },
        m.eventfd ? Array.from({ length: m.count }, (_, i) => 30 + i) : []);
    })),
  fc.record({ offset: u64, region: u32, data: fc.uint8Array({ minLength: 1, maxLength: 32 }), which: fc.nat({ max: 3 }) }).map((m) => {
    const carrying: Body = { kind: 'region-access', offset: m.offset, region: m.region, count: m.data.length, data: m.data };
    const bare: Body = { ...carrying, data: new Uint8Array(0) };
    return [command(VFIO_USER.REGION_READ, bare), reply(VFIO_USER.REGION_READ, carrying), command(VFIO_USER.REGION_WRITE, carrying), reply(VFIO_USER.REGION_WRITE, bare)][m.which]!;
  }),
  fc.record({ addr: u64, data: fc.uint8Array({ minLength: 1, maxLength: 32 }), which: fc.nat({ max: 3 }) }).map((m) => {
    const carrying: Body = { kind: 'dma-access', addr: m.addr, count: BigInt(m.data.length), data: m.data };
    const bare: Body = { ...carrying, data: new Uint8Array(0) };
    return [command(VFIO_USER.DMA_READ, bare), reply(VFIO_USER.DMA_READ, carrying), command(VFIO_USER.DMA_WRITE, carrying), reply(VFIO_USER.DMA_WRITE, bare)][m.which]!;
  }),
  bytes(8).map((tail) => command(VFIO_USER.DEVICE_RESET, { kind: 'reset', tail })),
  featureData.chain((f) => {
    const payload = encodeMessage({ header: { msgId: 0, cmd: VFIO_USER.DEVICE_FEATURE, type: f.type }, body: { kind: 'feature', argsz: 0, flags: f.flags, data: f.data } }).length - 16;
    return argszFor(payload).map((argsz) => {
      const b: Body = { kind: 'feature', argsz, flags: f.flags, data: f.data };
      return f.type === 'command' ? command(VFIO_USER.DEVICE_FEATURE, b) : reply(VFIO_USER.DEVICE_FEATURE, b);
    });
  }),
  fc.record({ size: fc.nat({ max: 64 }), slack: fc.nat({ max: 64 }), padding: fc.nat({ max: 32 }), which: fc.nat({ max: 2 }), fill: fc.nat({ max: 255 }) }).map((m) => {
    const data = new Uint8Array(m.size).fill(m.fill);
    const argsz = 8 + m.size + m.slack;
    if (m.which === 0) return command(VFIO_USER.MIG_DATA_READ, { kind: 'mig-data', argsz, size: m.size, data: new Uint8Array(0), padding: 0 });
    if (m.which === 1) return reply(VFIO_USER.MIG_DATA_READ, { kind: 'mig-data', argsz: u32Wrap(argsz), size: m.size, data, padding: m.padding });
    return command(VFIO_USER.MIG_DATA_WRITE, { kind: 'mig-data', argsz, size: m.size, data, padding: 0 });
  }),
  fc.constantFrom(...known).map((cmd) => reply(cmd, { kind: 'empty' })),
  fc.record({ cmd: u16, payload: bytes(24) }).map((m) => reply(m.cmd, { kind: 'error', payload: m.payload })),
);
function u32Wrap(n: number): number {
  return n >>> 0;
}

const cases: fc.Arbitrary<Case> = fc.record({ msgId: u16, noReply: fc.boolean(), errorNo: u32, b: body }).map(({ msgId, noReply, errorNo, b }) => {
  const error = b.body.kind === 'error';
  return {
    from: b.from,
    fds: b.fds,
    message: {
      header: { msgId, cmd: b.cmd, type: b.type, noReply: b.type === 'command' && noReply, error, errorNo: error ? errorNo : 0 },
      body: b.body,
    },
  };
});

test('encode then decode is the identity on generated valid messages, and decode then encode gives the bytes back', (t) => {
  fc.assert(fc.property(cases, ({ from, message, fds }) => {
    const wire = encodeMessage(message);
    const r = decodeMessage(wire, fds, { from });
    if (isDecodeFailure(r)) throw new Error(`${r.reason}: ${r.detail}`);
    const expected: Message = { header: { ...(message.header as Message['header']), msgSize: wire.length }, fds, body: message.body };
    deepStrictEqual(r, expected);
    return Buffer.from(encodeMessage(r)).equals(Buffer.from(wire));
  }), { numRuns: 2000 });
  t.pass();
});
