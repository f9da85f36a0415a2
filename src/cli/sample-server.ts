#!/usr/bin/env node
// `server [-v] SOCKET`: the command line libvfio-user's samples/client execs as its destination
// server (`<dirname(argv[0])>/server -v <sock>_migrated`). It serves `--device sample` on SOCKET for
// one session and exits 0 when that session ends (the client's EOF), as the sample server does.
// Link it as `server` next to the client binary (README, "vfio-user"). -v logs every message
// (debug); DMALOG_LOG_LEVEL sets the level otherwise (default warn).
import { logLevelFromEnv } from '../host/options.js';
import { startVfioUserServer } from '../vfio-user/server.js';

const args = process.argv.slice(2);
const verbose = args.includes('-v');
const rest = args.filter((a) => a !== '-v');
if (rest.length !== 1 || rest[0]!.startsWith('-')) {
  process.stderr.write('usage: server [-v] SOCKET (dmalog\'s libvfio-user sample server stand-in)\n');
  process.exit(2);
}
try {
  const server = await startVfioUserServer({
    socket: rest[0]!,
    device: 'sample',
    exitAfterSession: true,
    logLevel: verbose ? 'debug' : logLevelFromEnv('warn'),
  });
  const stop = () => { void server.close(); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await server.closed;
  process.exit(0);
} catch (error) {
  process.stderr.write(`server: ${(error as Error).message}\n`);
  process.exit(1);
}
