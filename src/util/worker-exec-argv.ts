// Node flags for dmalog's own threads: the parent's (so --cpu-prof and friends reach them), minus
// those that only make sense for an inline main script. Under `node --input-type=module -e CODE`
// a worker inheriting `-e CODE` fails to start.
const SCRIPT_FLAGS_WITH_VALUE = new Set(['-e', '--eval', '-p', '--print', '--input-type']);

export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (SCRIPT_FLAGS_WITH_VALUE.has(arg)) { i++; continue; }
    if (arg.startsWith('--input-type=') || arg.startsWith('--eval=') || arg.startsWith('--print=')) continue;
    out.push(arg);
  }
  return out;
}
