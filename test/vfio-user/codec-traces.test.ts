// Every recorded message of libvfio-user's sample client and server (and of the probe) through the
// codec, one table test per command: it decodes, it re-encodes to the identical bytes, and its
// fields are what the recording says (fields that vary between runs checked by rule).
import test from 'ava';
import { formatCapabilities } from '../../src/vfio-user/capabilities.js';
import { type Body, decodeMessage, type DecodeFailure, encodeMessage, type FeatureData, isDecodeFailure, type Message } from '../../src/vfio-user/codec.js';
import { commandName, type CommandName, VFIO_USER } from '../../src/vfio-user/protocol.js';
import { decodeSparseMmapCap, encodeSparseMmapCap, errorReply, migDataReadReply, regionInfoReply, successReply } from '../../src/vfio-user/replies.js';
import { allRecords, answerOf, bytesOf, fdsOf, requestOf, senderOf, trace, type TraceRecord } from '../helpers/vfio-user-traces.js';

function decode(r: TraceRecord): Message | DecodeFailure {
  return decodeMessage(bytesOf(r), fdsOf(r), { from: senderOf(r) });
}
function decodeOk(r: TraceRecord): Message {
  const m = decode(r);
  if (isDecodeFailure(m)) throw new Error(`${r.file} #${r.seq} (${r.step ?? r.phase}): ${m.reason}: ${m.detail}`);
  return m;
}
function bodyOf<K extends Body['kind']>(r: TraceRecord, kind: K): Extract<Body, { kind: K }> {
  const b = decodeOk(r).body;
  if (b.kind !== kind) throw new Error(`${r.file} #${r.seq}: ${b.kind}, expected ${kind}`);
  return b as Extract<Body, { kind: K }>;
}
function featureOf<K extends FeatureData['kind']>(r: TraceRecord, kind: K): Extract<FeatureData, { kind: K }> {
  const d = bodyOf(r, 'feature').data;
  if (d.kind !== kind) throw new Error(`${r.file} #${r.seq}: feature ${d.kind}, expected ${kind}`);
  return d as Extract<FeatureData, { kind: K }>;
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const u64le = (b: Uint8Array, at = 0): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigInt64(at, true);

/**
 * Probe requests the codec refuses on the bytes alone, with the reason; the sample server answered
 * each with EINVAL, except the DMA_MAP carrying two fds, which libvfio-user takes (closing the extra
 * fd) and dmalog refuses.
 */
const REFUSED: Record<number, DecodeFailure['reason']> = {
  14: 'bad-version', 24: 'bad-version', 26: 'bad-version',
  84: 'bad-payload', 86: 'too-many-fds', 98: 'bad-payload', 240: 'bad-payload', 248: 'unknown-command', 250: 'unknown-command',
  252: 'bad-payload', 254: 'bad-payload', 282: 'bad-payload', 287: 'unexpected-reply', 307: 'bad-payload', 353: 'bad-payload',
};
const LIBVFIO_USER_ACCEPTS = new Set([86]);
const isRefused = (r: TraceRecord): boolean => r.file === 'probe-sample-server' && r.seq in REFUSED;

const commands = Object.keys(VFIO_USER) as CommandName[];

for (const name of commands) {
  const records = allRecords().filter((r) => r.decoded.header.cmd === VFIO_USER[name] && !isRefused(r));
  test(`${name}: every recorded request and reply decodes and re-encodes to the identical bytes`, (t) => {
    t.true(records.some((r) => r.decoded.header.type === 'command'), 'a request is recorded');
    t.true(records.some((r) => r.decoded.header.type === 'reply'), 'a reply is recorded');
    for (const r of records) {
      const m = decodeOk(r);
      const where = `${r.file} #${r.seq}`;
      t.is(m.header.cmd, VFIO_USER[name], where);
      t.is(m.header.msgId, r.decoded.header.msg_id, where);
      t.is(m.header.type, r.decoded.header.type, where);
      t.is(m.header.error, r.decoded.header.error, where);
      t.is(m.header.errorNo, r.decoded.header.error_no, where);
      t.is(m.header.msgSize, r.len, where);
      t.is(m.fds.length, r.fds.length, where);
      t.is(hex(encodeMessage(m)), r.hex, `${where} re-encodes identically`);
    }
  });
}

test('every recorded message is one of the commands above: nothing is skipped but the refused probe requests', (t) => {
  const known = new Set<number>(Object.values(VFIO_USER));
  const unknown = allRecords().filter((r) => !known.has(r.decoded.header.cmd));
  // Probe #248-#251: commands 14 and 99 and their EINVAL replies.
  t.deepEqual(unknown.map((r) => r.seq), [248, 249, 250, 251]);
  t.is(allRecords().length, 206 + 82 + 432);
});

test('probe requests the codec refuses: the documented reason, EINVAL, and the sample server also said EINVAL (but one)', (t) => {
  const probe = trace('probe-sample-server');
  for (const [seq, reason] of Object.entries(REFUSED)) {
    const r = probe.find((x) => x.seq === Number(seq))!;
    const m = decode(r);
    if (!isDecodeFailure(m)) return t.fail(`#${seq} decoded`);
    t.is(m.reason, reason, `#${seq} ${r.step}`);
    t.is(m.errno, 'EINVAL');
    t.deepEqual(m.header, { msgId: r.decoded.header.msg_id, cmd: r.decoded.header.cmd });
    const answer = answerOf(r);
    if (LIBVFIO_USER_ACCEPTS.has(Number(seq))) t.false(answer.decoded.header.error, `#${seq}: libvfio-user accepts it`);
    else t.is(answer.decoded.header.error_no, 22, `#${seq}: the sample server answered EINVAL`);
  }
  // The unknown commands' error replies still decode, as error replies.
  for (const seq of [249, 251]) t.is(bodyOf(probe.find((x) => x.seq === seq)!, 'error').payload.length, 0);
});

test('every header-only error reply recorded is exactly errorReply(request, errno)', (t) => {
  const errors = allRecords().filter((r) => r.decoded.header.error && r.len === 16);
  t.true(errors.length > 40);
  const names: Record<number, 'EINVAL' | 'ENOENT' | 'EOPNOTSUPP'> = { 22: 'EINVAL', 2: 'ENOENT', 95: 'EOPNOTSUPP' };
  for (const r of errors) {
    const req = requestOf(r);
    t.is(hex(encodeMessage(errorReply({ msgId: req.decoded.header.msg_id, cmd: req.decoded.header.cmd }, names[r.decoded.header.error_no]!))), r.hex, `${r.file} #${r.seq}`);
  }
});

// ---- field facts per command (sample client, source and destination of one run) -----------------

const source = trace('sample-client-source');
const destination = trace('sample-client-destination');
const both = [...source, ...destination];
const of = (records: TraceRecord[], cmd: number, type: 'command' | 'reply'): TraceRecord[] =>
  records.filter((r) => r.decoded.header.cmd === cmd && r.decoded.header.type === type);

test('VERSION: client 0.2 with max_msg_fds 32 / max_data_xfer_size 1024; the sample reply is the json-c text of its capabilities', (t) => {
  for (const records of [source, destination]) {
    const req = bodyOf(of(records, VFIO_USER.VERSION, 'command')[0]!, 'version');
    t.like(req, { major: 0, minor: 2 });
    t.deepEqual(req.capabilities, { maxMsgFds: 32, maxDataXferSize: 1024, migration: null, twinSocket: null });
    const reply = of(records, VFIO_USER.VERSION, 'reply')[0]!;
    t.is(reply.len, 125);
    const body = bodyOf(reply, 'version');
    t.deepEqual(body.capabilities, { maxMsgFds: 8, maxDataXferSize: 1 << 20, migration: { pgsize: 4096 }, twinSocket: null });
    t.is(body.json, formatCapabilities(body.capabilities!));
  }
  // The twin-socket reply (probe V7) is printed the same way and carries the socket's fd.
  const twin = trace('probe-sample-server').find((r) => r.seq === 19)!;
  const tb = bodyOf(twin, 'version');
  t.deepEqual(tb.capabilities!.twinSocket, { supported: true, fdIndex: 0 });
  t.is(tb.json, formatCapabilities(tb.capabilities!));
  t.is(decodeOk(twin).fds.length, 1);
  // VERSION without text (probe V1) decodes with the defaults.
  t.deepEqual(bodyOf(trace('probe-sample-server')[0]!, 'version'), { kind: 'version', major: 0, minor: 2, json: null, capabilities: { maxMsgFds: 1, maxDataXferSize: 1 << 20, migration: null, twinSocket: null } });
});

test('DMA_MAP: 16 + 8 maps of 4 KiB at i * 0x1000, offset = iova, READ|WRITE, one memory fd each; replies are the header alone', (t) => {
  const maps = of(both, VFIO_USER.DMA_MAP, 'command');
  t.is(maps.length, 24);
  maps.forEach((r, i) => {
    const b = bodyOf(r, 'dma-map');
    // The destination maps the 8 regions the source unmapped last: iova 0x8000..0xf000.
    const iova = BigInt((i < 16 ? i : i - 8) * 0x1000);
    t.like(b, { argsz: 32, flags: 3, addr: iova, offset: iova, size: 0x1000n });
    t.is(b.tail.length, 0);
    t.is(decodeOk(r).fds.length, 1);
  });
  for (const r of of(both, VFIO_USER.DMA_MAP, 'reply')) {
    t.is(r.len, 16);
    t.deepEqual(bodyOf(r, 'empty'), { kind: 'empty' });
  }
});

test('DMA_UNMAP: 8 single unmaps then ALL; each reply echoes its request; GET_DIRTY_BITMAP carries pgsize/size and the reply the bitmap', (t) => {
  const unmaps = of(both, VFIO_USER.DMA_UNMAP, 'command').map((r) => bodyOf(r, 'dma-unmap'));
  t.deepEqual(unmaps.map((b) => [b.flags, b.addr, b.size]), [
    ...Array.from({ length: 8 }, (_, i) => [0, BigInt(i * 0x1000), 0x1000n]), [2, 0n, 0n],
  ]);
  for (const r of of(both, VFIO_USER.DMA_UNMAP, 'reply')) t.deepEqual(bodyOf(r, 'dma-unmap'), bodyOf(requestOf(r), 'dma-unmap'));
  const probe = trace('probe-sample-server');
  const req = bodyOf(probe.find((r) => r.seq === 232)!, 'dma-unmap');
  t.deepEqual(req.bitmap, { pgsize: 4096n, size: 8n });
  t.is(req.tail.length, 0);
  const reply = bodyOf(probe.find((r) => r.seq === 233)!, 'dma-unmap');
  t.deepEqual(reply.bitmap, { pgsize: 4096n, size: 8n });
  t.is(hex(reply.tail), '0100000000000000');
});

test('DEVICE_GET_INFO: argsz 16 asked; 9 regions, 5 IRQs, flags RESET|PCI', (t) => {
  t.like(bodyOf(of(source, VFIO_USER.DEVICE_GET_INFO, 'command')[0]!, 'device-info'), { argsz: 16, flags: 0, numRegions: 0, numIrqs: 0 });
  t.like(bodyOf(of(source, VFIO_USER.DEVICE_GET_INFO, 'reply')[0]!, 'device-info'), { argsz: 16, flags: 3, numRegions: 9, numIrqs: 5 });
});

test('DEVICE_GET_REGION_INFO: the region table, BAR1 in two rounds, and regionInfoReply rebuilding every recorded reply', (t) => {
  const replies = of(source, VFIO_USER.DEVICE_GET_REGION_INFO, 'reply');
  t.is(replies.length, 10);
  const table: Record<number, [number, bigint]> = { 0: [3, 8n], 1: [7, 12288n], 7: [3, 256n] };
  const bar1Caps = encodeSparseMmapCap([{ offset: 0n, size: 0x1000n }, { offset: 0x2000n, size: 0x1000n }]);
  for (const r of replies) {
    const req = bodyOf(requestOf(r), 'region-info');
    const b = bodyOf(r, 'region-info');
    const [flags, size] = table[b.index] ?? [0, 0n];
    t.is(b.flags & ~8, flags, `region ${b.index}`);
    t.is(b.size, size);
    t.is(b.offset, 0n);
    const rebuilt = regionInfoReply(req.argsz, { flags, index: b.index, size, offset: 0n }, b.index === 1 ? bar1Caps : undefined);
    t.is(hex(encodeMessage(successReply({ msgId: 0xabcd, cmd: VFIO_USER.DEVICE_GET_REGION_INFO }, rebuilt))), r.hex, `region ${b.index} argsz ${req.argsz}`);
  }
  const bar1 = replies.filter((r) => bodyOf(r, 'region-info').index === 1);
  t.deepEqual(bar1.map((r) => [r.len, bodyOf(r, 'region-info').argsz, bodyOf(r, 'region-info').flags, r.fds.length]), [[48, 80, 7, 0], [96, 80, 0xf, 1]]);
  const second = bodyOf(bar1[1]!, 'region-info');
  t.is(second.capOffset, 32);
  t.deepEqual(decodeSparseMmapCap(second.tail, second.capOffset - 32), {
    id: 1, version: 1, next: 0, nrAreas: 2, reserved: 0, areas: [{ offset: 0n, size: 0x1000n }, { offset: 0x2000n, size: 0x1000n }],
  });
  // The client's second request is the struct plus 48 zero bytes (argsz 80).
  const ask = bodyOf(requestOf(bar1[1]!), 'region-info');
  t.is(ask.argsz, 80);
  t.deepEqual(ask.tail, new Uint8Array(48));
});

test('DEVICE_GET_IRQ_INFO: indexes 0..4, EVENTFD, counts INTx 1, MSI 0, MSI-X 0, ERR 1, REQ 1', (t) => {
  for (const records of [source, destination]) {
    const infos = of(records, VFIO_USER.DEVICE_GET_IRQ_INFO, 'reply').map((r) => bodyOf(r, 'irq-info'));
    t.deepEqual(infos.map((b) => [b.argsz, b.flags, b.index, b.count]), [[16, 1, 0, 1], [16, 1, 1, 0], [16, 1, 2, 0], [16, 1, 3, 1], [16, 1, 4, 1]]);
  }
});

test('DEVICE_SET_IRQS: INTx trigger with one eventfd (flags 0x24, count 1); the reply is the header alone', (t) => {
  for (const records of [source, destination]) {
    const r = of(records, VFIO_USER.DEVICE_SET_IRQS, 'command')[0]!;
    t.deepEqual(bodyOf(r, 'set-irqs'), { kind: 'set-irqs', argsz: 20, flags: 0x24, index: 0, start: 0, count: 1, data: new Uint8Array(0) });
    t.is(decodeOk(r).fds.length, 1);
    t.is(bodyOf(of(records, VFIO_USER.DEVICE_SET_IRQS, 'reply')[0]!, 'empty').kind, 'empty');
  }
});

test('REGION_READ: the bogus region fails EINVAL header-only; config space bytes; BAR0 reads back a small int64 (by rule)', (t) => {
  const replies = of(source, VFIO_USER.REGION_READ, 'reply');
  t.is(decodeOk(replies[0]!).header.errorNo, 22);
  t.is(bodyOf(requestOf(replies[0]!), 'region-access').region, 0xdeadbeef);
  const config = bodyOf(replies[1]!, 'region-access');
  t.like(config, { region: 7, offset: 0n, count: 64 });
  t.is(hex(config.data), ['addeefbe', '00000000', '00000000', '00000000', '01000000', '01000000', '01000000', '01000000',
    '01000000', '01000000', '00000000', 'fecabeba', '00000000', '00000000', '00000000', '00010000'].join(''));
  const bar0 = bodyOf(replies[2]!, 'region-access');
  t.like(bar0, { region: 0, count: 8 });
  t.true([-1n, 0n].includes(u64le(bar0.data)), 'time(NULL) - (now + 1): -1, or 0 across a second boundary');
  // The destination reads all of BAR1 back: 12288 bytes equal to the last BAR1 write on the source.
  const back = bodyOf(of(destination, VFIO_USER.REGION_READ, 'reply')[0]!, 'region-access');
  const lastWrite = of(source, VFIO_USER.REGION_WRITE, 'command').map((r) => bodyOf(r, 'region-access')).filter((b) => b.region === 1).at(-1)!;
  t.is(back.count, 12288);
  t.deepEqual(back.data, lastWrite.data);
});

test('REGION_WRITE: BAR0 takes a time_t (by rule: a plausible wall clock), BAR1 12288 bytes; each reply echoes the 16-byte struct', (t) => {
  const writes = of(source, VFIO_USER.REGION_WRITE, 'command').map((r) => bodyOf(r, 'region-access'));
  const bar0 = writes.filter((b) => b.region === 0);
  t.is(bar0.length, 2);
  for (const b of bar0) {
    t.is(b.count, 8);
    t.true(u64le(b.data) > 1_700_000_000n && u64le(b.data) < 4_000_000_000n);
  }
  const gap = u64le(bar0[1]!.data) - u64le(bar0[0]!.data);
  t.true(gap >= 9n && gap <= 11n, 'time()+10 about a second after time()+1, whole seconds');
  t.true(writes.filter((b) => b.region === 1).every((b) => b.count === 12288 && b.data.length === 12288));
  for (const r of of(source, VFIO_USER.REGION_WRITE, 'reply')) {
    t.is(r.len, 32);
    t.deepEqual(bodyOf(r, 'region-access'), { ...bodyOf(requestOf(r), 'region-access'), data: new Uint8Array(0) });
  }
});

test('DMA_WRITE / DMA_READ: the server sends 4 × 1 KiB of A..D then reads them back, at iova 0x0.. and 0x8000..', (t) => {
  for (const [records, base] of [[source, 0n], [destination, 0x8000n]] as const) {
    const writes = of(records, VFIO_USER.DMA_WRITE, 'command').map((r) => bodyOf(r, 'dma-access'));
    t.deepEqual(writes.map((b) => b.addr), [0n, 0x400n, 0x800n, 0xc00n].map((a) => a + base));
    writes.forEach((b, i) => t.deepEqual(b.data, new Uint8Array(1024).fill(0x41 + i)));
    for (const r of of(records, VFIO_USER.DMA_WRITE, 'reply')) t.deepEqual(bodyOf(r, 'dma-access'), { ...bodyOf(requestOf(r), 'dma-access'), data: new Uint8Array(0) });
    const reads = of(records, VFIO_USER.DMA_READ, 'reply').map((r) => bodyOf(r, 'dma-access'));
    t.deepEqual(reads.map((b) => b.addr), writes.map((b) => b.addr));
    reads.forEach((b, i) => t.deepEqual(b.data, writes[i]!.data));
    t.true(of(records, VFIO_USER.DMA_READ, 'command').every((r) => r.len === 32 && decodeOk(r).header.msgId >= 1));
  }
});

test('DEVICE_RESET: header-only both ways (a RESET with a payload, as the probe sent, keeps its bytes)', (t) => {
  t.deepEqual(bodyOf(of(source, VFIO_USER.DEVICE_RESET, 'command')[0]!, 'reset'), { kind: 'reset', tail: new Uint8Array(0) });
  t.is(bodyOf(of(source, VFIO_USER.DEVICE_RESET, 'reply')[0]!, 'empty').kind, 'empty');
  t.is(bodyOf(trace('probe-sample-server').find((r) => r.seq === 291)!, 'reset').tail.length, 8);
});

test('DEVICE_FEATURE: START 4096 with 0 ranges, 16 REPORTs (only iova 0x1000 dirty), STOP, the state walks; SET replies echo', (t) => {
  const reqs = of(source, VFIO_USER.DEVICE_FEATURE, 'command');
  const start = featureOf(reqs[0]!, 'control');
  t.deepEqual(start, { kind: 'control', pageSize: 4096n, numRanges: 0, reserved: 0, ranges: [], tail: new Uint8Array(0) });
  t.is(bodyOf(reqs[0]!, 'feature').flags, 0x20006);
  const reports = reqs.filter((r) => bodyOf(r, 'feature').data.kind === 'report');
  t.is(reports.length, 16);
  reports.forEach((r, i) => {
    t.is(bodyOf(r, 'feature').argsz, 40);
    t.like(featureOf(r, 'report'), { iova: BigInt(i * 0x1000), length: 0x1000n, pageSize: 4096n, bitmap: new Uint8Array(0) });
    const reply = trace('sample-client-source').find((x) => x.seq === r.reply_seq)!;
    t.is(reply.len, 56);
    const bits = featureOf(reply, 'report').bitmap;
    t.is(hex(bits), i === 1 ? '0100000000000000' : '0000000000000000', `region ${i}`);
  });
  const states = (records: TraceRecord[]) => of(records, VFIO_USER.DEVICE_FEATURE, 'command')
    .filter((r) => bodyOf(r, 'feature').data.kind === 'mig-state').map((r) => featureOf(r, 'mig-state'));
  t.deepEqual(states(source).map((s) => [s.deviceState, s.dataFd]), [[6, -1], [3, -1], [1, -1]]);
  t.deepEqual(states(destination).map((s) => s.deviceState), [4, 1, 2]);
  // STOP carries the client's control struct as opaque data (the kernel's STOP takes no payload).
  const stop = reqs.find((r) => (bodyOf(r, 'feature').flags & 0xffff) === 7)!;
  t.is(hex(featureOf(stop, 'raw').data), '00100000000000000000000000000000');
  // Every SET reply (START, STOP, MIG_DEVICE_STATE) is byte-identical to its request after the header.
  for (const r of of(both, VFIO_USER.DEVICE_FEATURE, 'reply')) {
    if ((bodyOf(r, 'feature').flags & 0x20000) === 0) continue;
    t.is(r.hex.slice(32), requestOf(r).hex.slice(32), `${r.file} #${r.seq}`);
  }
  // Probe: GET MIGRATION → flags STOP_COPY | PRE_COPY; GET MIG_DEVICE_STATE → RUNNING, data_fd 0; START with one range.
  const probe = trace('probe-sample-server');
  t.deepEqual(featureOf(probe.find((r) => r.seq === 61)!, 'migration'), { kind: 'migration', flags: 5n, tail: new Uint8Array(0) });
  t.deepEqual(featureOf(probe.find((r) => r.seq === 67)!, 'mig-state'), { kind: 'mig-state', deviceState: 2, dataFd: 0, tail: new Uint8Array(0) });
  t.deepEqual(featureOf(probe.find((r) => r.seq === 90)!, 'control').ranges, [{ iova: 0n, length: 0x4000n }]);
  t.is(featureOf(probe.find((r) => r.seq === 32)!, 'raw').data.length, 0, 'PROBE carries no data');
  t.is(bodyOf(probe.find((r) => r.seq === 105)!, 'empty').kind, 'empty', 'the spanning REPORT got a header-only success');
});

test('MIG_DATA_READ: 12 PRE_COPY reads of 1024 and 12 × 1024 + 8 in STOP_COPY; every reply is 1048 bytes, rebuilt by migDataReadReply', (t) => {
  const replies = of(source, VFIO_USER.MIG_DATA_READ, 'reply');
  t.is(replies.length, 25);
  t.true(of(source, VFIO_USER.MIG_DATA_READ, 'command').every((r) => bodyOf(r, 'mig-data').argsz === 1032 && bodyOf(r, 'mig-data').size === 1024));
  t.deepEqual(replies.map((r) => bodyOf(r, 'mig-data').size), [...Array(24).fill(1024), 8]);
  for (const r of replies) {
    t.is(r.len, 1048);
    const b = bodyOf(r, 'mig-data');
    t.is(hex(encodeMessage(successReply({ msgId: decodeOk(r).header.msgId, cmd: VFIO_USER.MIG_DATA_READ }, migDataReadReply(1024, b.data)))), r.hex);
  }
  // Stream contents vary by run; by rule, PRE_COPY and STOP_COPY both begin with BAR1 as last written.
  const lastWrite = of(source, VFIO_USER.REGION_WRITE, 'command').map((r) => bodyOf(r, 'region-access')).filter((b) => b.region === 1).at(-1)!;
  const stopCopy = Buffer.concat(replies.slice(12).map((r) => bodyOf(r, 'mig-data').data));
  t.is(stopCopy.length, 12296);
  t.deepEqual(new Uint8Array(stopCopy.subarray(0, 12288)), lastWrite.data);
});

test('MIG_DATA_WRITE: the destination gets exactly the 13 STOP_COPY chunks back; replies are the header alone', (t) => {
  const stopCopy = of(source, VFIO_USER.MIG_DATA_READ, 'reply').slice(12).map((r) => bodyOf(r, 'mig-data').data);
  const writes = of(destination, VFIO_USER.MIG_DATA_WRITE, 'command').map((r) => bodyOf(r, 'mig-data'));
  t.deepEqual(writes.map((w) => w.data), stopCopy);
  t.true(writes.every((w) => w.argsz === 8 + w.size && w.size === w.data.length));
  t.true(of(destination, VFIO_USER.MIG_DATA_WRITE, 'reply').every((r) => r.len === 16 && bodyOf(r, 'empty').kind === 'empty'));
});

test('commandName: the README numbers, and nothing for 6, 14, 15, 19', (t) => {
  t.deepEqual(Object.entries(VFIO_USER).map(([k, v]) => `${v}:${k}`), [
    '1:VERSION', '2:DMA_MAP', '3:DMA_UNMAP', '4:DEVICE_GET_INFO', '5:DEVICE_GET_REGION_INFO', '7:DEVICE_GET_IRQ_INFO',
    '8:DEVICE_SET_IRQS', '9:REGION_READ', '10:REGION_WRITE', '11:DMA_READ', '12:DMA_WRITE', '13:DEVICE_RESET',
    '16:DEVICE_FEATURE', '17:MIG_DATA_READ', '18:MIG_DATA_WRITE',
  ]);
  for (const n of [0, 6, 14, 15, 19, 99]) t.is(commandName(n), undefined);
});
