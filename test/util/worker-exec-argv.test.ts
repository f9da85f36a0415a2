import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { workerExecArgv } from '../../src/util/worker-exec-argv.js';

test('inline-script flags are not passed to worker threads; the rest are', (t) => {
  t.deepEqual(workerExecArgv(['--input-type=module', '-e', 'code', '--cpu-prof', '--cpu-prof-dir=/tmp/p']), ['--cpu-prof', '--cpu-prof-dir=/tmp/p']);
  t.deepEqual(workerExecArgv(['--input-type', 'module', '--eval=x', '-p', '1+1', '--max-old-space-size=512']), ['--max-old-space-size=512']);
  t.deepEqual(workerExecArgv([]), []);
});

test('dmalog runs from `node --input-type=module -e`: tracker threads and the DMA pool start', (t) => {
  const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));
  const script = `const { createHost, DmaPool } = await import(${JSON.stringify(entry)});
    const host = await createHost({ devices: [{ name: 'd', profile: 'mlx5' }] });
    const pool = new DmaPool({ threads: 1 });
    const burst = await pool.run({ guest: new SharedArrayBuffer(1 << 16), guestIova: 0n, logs: [], seed: 1, burstId: 0, count: 8,
      workload: { kind: 'uniform', pageBase: 0, pageCount: 16, writer: 0, writers: 1, stream: 0 } });
    console.log(await host.device('d').probe(), burst.attempted);
    await pool.close(); await host.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), 'true 8');
});
