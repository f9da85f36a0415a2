// What every CLI test checks of a refused command line: one line on stderr starting `dmalog: `
// and naming the bad input, nothing on stdout, exit 2, no stack trace.
import type { ExecutionContext } from 'ava';

export interface CliRun { code: number | null; stdout: string; stderr: string }

export function isUsageError(t: ExecutionContext, r: CliRun, names: string): void {
  t.is(r.code, 2, r.stderr);
  t.is(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.true(lines[0]!.startsWith('dmalog: '), lines[0]);
  t.true(lines[0]!.includes(names), `${lines[0]} should name ${names}`);
}
