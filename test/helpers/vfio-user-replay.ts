// Replay of the recorded libvfio-user sample-client session (test/fixtures/vfio-user) against a
// dmalog server: the client side of the source trace is sent as recorded, the destination side
// with the stream this server produced, and every message from the server is compared field by
// field with the recorded one. Lengths, header fields and payload bytes must be equal, except the
// fields the recordings say vary between runs, which are compared by rule:
//   - BAR0 writes carry wall-clock times: the replay writes now+1 (INTx and the DMA round come at
//     once after a second) and now+2 (instead of now+10: it stays armed through PRE_COPY and is
//     restored on the destination, whose INTx then comes about 2 s after the write);
//   - the BAR0 read is now − stored: −1, or 0 across a second boundary;
//   - MIG_DATA_READ data is BAR1 as the replay last wrote it (PRE_COPY: as it was at each read),
//     and STOP_COPY's last 8 bytes the BAR0 value the replay wrote;
//   - the destination's BAR1 read returns what the source's last BAR1 write put there.
// Server→client DMA commands must come exactly as recorded (addresses, 'A'..'D' data, ids 1..8);
// the replay answers them with the recorded replies.
import { encodeHeader } from '../../src/vfio-user/codec.js';
import { VFIO_USER } from '../../src/vfio-user/protocol.js';
import { bytesOf, trace, type TraceFile, type TraceRecord } from './vfio-user-traces.js';
import { GuestMemory, IrqFile, VfioUserClient } from './vfio-user-client.js';

export interface Mismatch { file: TraceFile; seq: number; what: string }

const LE = true;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface ReplayState {
  bar1: Uint8Array;
  bar0Written: bigint[];
  finalStream: Uint8Array[];
  mismatches: Mismatch[];
  /** Server messages compared with their recording. */
  compared: number;
}

/** Replay the source trace against `sourcePath`, then the destination trace against `destinationPath`. */
export async function replaySampleSession(sourcePath: string, destinationPath: string): Promise<{ mismatches: Mismatch[]; compared: number }> {
  const state: ReplayState = { bar1: new Uint8Array(12288), bar0Written: [], finalStream: [], mismatches: [], compared: 0 };
  const memory = new GuestMemory(1 << 16);
  try {
    await replayFile('sample-client-source', sourcePath, memory, state);
    if (state.mismatches.length === 0) await replayFile('sample-client-destination', destinationPath, memory, state);
  } finally {
    memory.close();
  }
  return { mismatches: state.mismatches, compared: state.compared };
}

async function replayFile(file: TraceFile, path: string, memory: GuestMemory, state: ReplayState): Promise<void> {
  const records = trace(file);
  const client = await VfioUserClient.connect(path, { serveDma: false });
  const irq = new IrqFile();
  let received = 0;
  let phase: 'pre' | 'stop' | null = null;
  let preCopyAt = 0;
  let finalAt = 0;
  const miss = (r: TraceRecord, what: string) => { state.mismatches.push({ file, seq: r.seq, what }); };
  try {
    for (const r of records) {
      if (state.mismatches.length > 0) return;
      const recorded = bytesOf(r);
      if (r.dir === 'client->server') {
        let bytes = recorded;
        const cmd = r.decoded.header.cmd;
        const p = r.decoded.payload as Record<string, unknown>;
        if (cmd === VFIO_USER.REGION_WRITE && p['region'] === 0) {
          bytes = recorded.slice();
          const now = BigInt(Math.floor(Date.now() / 1000));
          const value = now + (state.bar0Written.length === 0 ? 1n : 2n);
          new DataView(bytes.buffer).setBigInt64(32, value, LE);
          state.bar0Written.push(value);
        }
        if (cmd === VFIO_USER.REGION_WRITE && p['region'] === 1) state.bar1 = recorded.slice(32);
        if (cmd === VFIO_USER.MIG_DATA_WRITE) {
          const chunk = state.finalStream.shift();
          if (!chunk) return miss(r, 'no STOP_COPY chunk left to write');
          bytes = new Uint8Array(24 + chunk.length);
          bytes.set(encodeHeader({ msgId: r.decoded.header.msg_id, cmd, type: 'command' }, bytes.length));
          new DataView(bytes.buffer).setUint32(16, 8 + chunk.length, LE);
          new DataView(bytes.buffer).setUint32(20, chunk.length, LE);
          bytes.set(chunk, 24);
        }
        if (cmd === VFIO_USER.DEVICE_FEATURE) {
          const state_ = new DataView(recorded.buffer, recorded.byteOffset).getUint32(24, LE);
          const flags = new DataView(recorded.buffer, recorded.byteOffset).getUint32(20, LE);
          if ((flags & 0xffff) === 2 && (flags & (1 << 17))) phase = state_ === 6 ? 'pre' : state_ === 3 ? 'stop' : null;
        }
        const fds = r.fds.map((kind) => (kind === 'dma_backing_file' ? memory.fd : kind === 'eventfd' ? irq.fd : -1));
        if (fds.includes(-1)) return miss(r, `cannot stand in for fds ${r.fds.join(',')}`);
        await client.sendRaw(bytes, fds);
        continue;
      }
      // A message from the server: the next one to arrive must be this record.
      try {
        await client.waitRaw(received + 1, 5000);
      } catch {
        return miss(r, `nothing arrived (expected ${r.decoded.header.type} of cmd ${r.decoded.header.cmd})`);
      }
      const got = client.rawMessages[received++]!;
      state.compared++;
      if (got.fds.length !== r.fds.length) miss(r, `${got.fds.length} fds, recorded ${r.fds.length}`);
      if (got.bytes.length !== recorded.length) return miss(r, `${got.bytes.length} bytes, recorded ${recorded.length}: ${hex(got.bytes.subarray(0, 64))}`);
      if (hex(got.bytes.subarray(0, 16)) !== hex(recorded.subarray(0, 16))) return miss(r, `header ${hex(got.bytes.subarray(0, 16))}, recorded ${hex(recorded.subarray(0, 16))}`);
      const cmd = r.decoded.header.cmd;
      const payload = got.bytes.subarray(16);
      if (r.decoded.header.type === 'command') {
        // A DMA command of the device: exact; answer with the recorded reply.
        if (hex(payload) !== hex(recorded.subarray(16))) return miss(r, 'DMA command differs from the recording');
        const answer = records.find((q) => q.seq === r.reply_seq)!;
        await client.sendRaw(bytesOf(answer));
        continue;
      }
      const request = records.find((q) => q.seq === r.reply_to_seq);
      const rp = (request?.decoded.payload ?? {}) as Record<string, unknown>;
      if (cmd === VFIO_USER.REGION_READ && rp['region'] === 0 && !r.decoded.header.error) {
        const same = hex(payload.subarray(0, 16)) === hex(recorded.subarray(16, 32));
        const value = new DataView(payload.buffer, payload.byteOffset + 16, 8).getBigInt64(0, LE);
        if (!same || (value !== -1n && value !== 0n)) miss(r, `BAR0 read ${value} (rule: -1 or 0)`);
      } else if (cmd === VFIO_USER.REGION_READ && rp['region'] === 1 && !r.decoded.header.error) {
        if (hex(payload.subarray(0, 16)) !== hex(recorded.subarray(16, 32)) || hex(payload.subarray(16)) !== hex(state.bar1)) miss(r, 'BAR1 read-back differs from the source\'s last BAR1 write');
      } else if (cmd === VFIO_USER.MIG_DATA_READ && !r.decoded.header.error) {
        if (hex(payload.subarray(0, 8)) !== hex(recorded.subarray(16, 24))) return miss(r, `MIG_DATA_READ argsz/size ${hex(payload.subarray(0, 8))}, recorded ${hex(recorded.subarray(16, 24))}`);
        const size = new DataView(payload.buffer, payload.byteOffset).getUint32(4, LE);
        const data = payload.subarray(8, 8 + size);
        const padding = payload.subarray(8 + size);
        let want: Uint8Array;
        if (phase === 'pre') {
          want = state.bar1.subarray(preCopyAt, preCopyAt + size);
          preCopyAt += size;
        } else {
          const stream = new Uint8Array(12296);
          stream.set(state.bar1);
          new DataView(stream.buffer).setBigInt64(12288, state.bar0Written.at(-1) ?? 0n, LE);
          want = stream.subarray(finalAt, finalAt + size);
          finalAt += size;
          state.finalStream.push(data.slice());
        }
        if (hex(data) !== hex(want)) miss(r, `MIG_DATA_READ data differs from the device state (${phase})`);
        if (padding.some((b) => b !== 0)) miss(r, 'MIG_DATA_READ padding is not zero');
      } else if (hex(payload) !== hex(recorded.subarray(16))) {
        miss(r, `payload ${hex(payload).slice(0, 96)}, recorded ${hex(recorded.subarray(16)).slice(0, 96)}`);
      }
    }
  } finally {
    client.close();
    irq.close();
  }
}
