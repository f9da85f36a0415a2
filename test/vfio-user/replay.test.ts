// The recorded libvfio-user sample-client session replayed against `--device sample`, source and
// destination, every reply checked against the recording (see test/helpers/vfio-user-replay.ts for
// the fields compared by rule); and `--drop-dirty-bit 1` makes the replay fail at the REPORT of
// the region the device wrote through its fd.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVfioUserServer, type VfioUserServerOptions } from '../../src/vfio-user/server.js';
import { replaySampleSession } from '../helpers/vfio-user-replay.js';
import { trace } from '../helpers/vfio-user-traces.js';

async function replay(t: import('ava').ExecutionContext, options: Partial<VfioUserServerOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dmalog-replay-'));
  const source = await startVfioUserServer({ socket: join(dir, 's'), device: 'sample', logLevel: 'silent', ...options });
  const destination = await startVfioUserServer({ socket: join(dir, 's_migrated'), device: 'sample', logLevel: 'silent', ...options });
  t.teardown(async () => { await source.close(); await destination.close(); rmSync(dir, { recursive: true, force: true }); });
  return { ...(await replaySampleSession(source.path, destination.path)), source, destination };
}

test('the recorded sample-client session replays against --device sample, source and destination', async (t) => {
  const { mismatches, compared, source, destination } = await replay(t);
  t.deepEqual(mismatches, []);
  // Every server message of both recordings (103 + 41 here), replies and DMA commands alike.
  const fromServer = [...trace('sample-client-source'), ...trace('sample-client-destination')].filter((r) => r.dir === 'server->client').length;
  t.is(compared, fromServer);
  t.is(source.sessionsEnded + source.sessions, 1);
  t.is(destination.sessionsEnded + destination.sessions, 1);
});

test('--drop-dirty-bit 1 makes the replay fail at the REPORT of iova 0x1000', async (t) => {
  const { mismatches, source } = await replay(t, { dropDirtyBit: 1 });
  t.is(mismatches.length, 1);
  const at = trace('sample-client-source').find((r) => r.seq === mismatches[0]!.seq)!;
  t.is(at.decoded.header.cmd, 16);
  t.is(trace('sample-client-source').find((r) => r.seq === at.reply_to_seq)!.decoded.payload['iova'], '0x1000');
  t.true(source.droppedDirtyBit);
});
