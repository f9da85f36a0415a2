// The recorded vfio-user traces in test/fixtures/vfio-user (see its README), loaded for tests.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Peer } from '../../src/vfio-user/codec.js';

export interface TraceRecord {
  file: TraceFile;
  seq: number;
  dir: 'client->server' | 'server->client';
  sender: string;
  len: number;
  hex: string;
  fds: string[];
  reply_to_seq?: number;
  reply_seq?: number;
  phase?: string;
  session?: string;
  step?: string;
  decoded: { header: { cmd: number; msg_id: number; type: 'command' | 'reply'; error: boolean; error_no: number }; payload: Record<string, unknown> };
}

export type TraceFile = 'sample-client-source' | 'sample-client-destination' | 'probe-sample-server';
export const TRACE_FILES: readonly TraceFile[] = ['sample-client-source', 'sample-client-destination', 'probe-sample-server'];

// Tests run from dist/test/helpers; the fixtures stay in the source tree.
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/vfio-user/', import.meta.url));

const cache = new Map<TraceFile, TraceRecord[]>();
export function trace(file: TraceFile): TraceRecord[] {
  let records = cache.get(file);
  if (!records) {
    records = readFileSync(`${FIXTURES}${file}.jsonl`, 'utf8').trim().split('\n')
      .map((line) => ({ ...(JSON.parse(line) as Omit<TraceRecord, 'file'>), file }));
    cache.set(file, records);
  }
  return records;
}

export function allRecords(): TraceRecord[] {
  return TRACE_FILES.flatMap((f) => trace(f));
}

export function bytesOf(r: TraceRecord): Uint8Array {
  return new Uint8Array(Buffer.from(r.hex, 'hex'));
}
export function senderOf(r: TraceRecord): Peer {
  return r.dir === 'client->server' ? 'client' : 'server';
}
/** The answer to a request (see requestOf for the one unpaired exchange). */
export function answerOf(r: TraceRecord): TraceRecord {
  const seq = r.reply_seq ?? r.seq + 1;
  const answer = trace(r.file).find((q) => q.seq === seq && q.dir !== r.dir);
  if (!answer) throw new Error(`${r.file} #${r.seq} has no recorded answer`);
  return answer;
}
/** Stand-in fd numbers, one per fd the message carried. */
export function fdsOf(r: TraceRecord): number[] {
  return r.fds.map((_, i) => 100 + i);
}
/** The record a reply answers, in the same file. */
export function requestOf(r: TraceRecord): TraceRecord {
  // The recorder pairs by type, so the probe's header-only "reply" sent to the server (#287) and
  // the server's answer (#288) are unpaired: the answer is then the next message on the socket.
  const seq = r.reply_to_seq ?? r.seq - 1;
  const req = trace(r.file).find((q) => q.seq === seq && q.dir !== r.dir);
  if (!req) throw new Error(`${r.file} #${r.seq} answers no recorded request`);
  return req;
}
