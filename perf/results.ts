// perf/RESULTS.md: each scenario's table sits between its own markers, so a run of one scenario
// replaces only that section and sections written by hand (analysis, "## Fuzz", ...) stay.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { markdownTable, type MachineInfo, type ScenarioResult } from './harness.js';

const RESULTS_FILE = fileURLToPath(new URL('../../perf/RESULTS.md', import.meta.url));

const PREFACE = `# Benchmark results

Every figure is a ratio to a baseline measured in the same process run, on the same data
(\`npm run bench\`, code in \`perf/\`): absolute times on a shared machine are noise. Each value is
the median over three rounds (task order rotated) of tinybench medians. "speed" ratios are ours ÷ baseline throughput (higher is better),
"time" and "size" ratios are ours ÷ baseline latency or bytes (lower is better). The targets are
the project's own, listed with their status under "Targets" below the tables.
`;

const begin = (name: string) => `<!-- bench:${name}:begin -->`;
const end = (name: string) => `<!-- bench:${name}:end -->`;

function section(result: ScenarioResult, machine: MachineInfo, command: string): string {
  return [
    begin(result.name),
    `## ${result.name}: ${result.title}`,
    '',
    `Measured ${machine.date} on ${machine.cpu} (${machine.cores} cores, ${machine.platform}), node ${machine.node},`,
    `load average ${machine.load}. Command: \`${command}\``,
    '',
    markdownTable(result),
    '',
    ...result.notes.map((n) => `- ${n}`),
    end(result.name),
  ].join('\n');
}

export async function writeResults(results: ScenarioResult[], machine: MachineInfo, command: string): Promise<string> {
  let text = existsSync(RESULTS_FILE) ? readFileSync(RESULTS_FILE, 'utf8') : `${PREFACE}\n`;
  for (const result of results) {
    const body = section(result, machine, command);
    const from = text.indexOf(begin(result.name));
    const to = text.indexOf(end(result.name));
    if (from >= 0 && to > from) {
      text = text.slice(0, from) + body + text.slice(to + end(result.name).length);
    } else {
      // After the last generated section, or else before the first hand-written one, so the
      // tables stay together right after the preface.
      const last = text.lastIndexOf(':end -->');
      const firstHeading = text.search(/^## /m);
      const at = last >= 0 ? last + ':end -->'.length : firstHeading >= 0 ? firstHeading : text.length;
      text = `${text.slice(0, at).trimEnd()}\n\n${body}\n\n${text.slice(at).trimStart()}`;
    }
  }
  writeFileSync(RESULTS_FILE, `${text.trimEnd()}\n`);
  return RESULTS_FILE;
}
