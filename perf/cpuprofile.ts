// Reading V8 .cpuprofile files (what `node --cpu-prof` writes, one per thread): self time per
// function, so a profile run can print where each thread spent its time.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export interface FunctionTime { name: string; where: string; selfMs: number; share: number }

export interface ProfileSummary {
  file: string;
  /** `main`, or the worker's entry script when one appears in the profile. */
  thread: string;
  totalMs: number;
  top: FunctionTime[];
}

/** File names are CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread. */
export function threadIdOf(file: string): number | null {
  const parts = basename(file).split('.');
  return parts.length >= 7 ? Number(parts[parts.length - 3]) : null;
}

export function summarizeProfile(file: string, topN = 10, root = process.cwd()): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; charge it to the node sampled at i.
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, deltas[i] ?? 0));
  const byFunction = new Map<string, FunctionTime>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    totalUs += us;
    const name = frame.functionName || (frame.url ? '(anonymous)' : `(${frame.functionName || 'native'})`);
    const where = frame.url ? `${shorten(frame.url, root)}:${frame.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const entry = byFunction.get(key) ?? { name, where, selfMs: 0, share: 0 };
    entry.selfMs += us / 1000;
    byFunction.set(key, entry);
  }
  const top = [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN);
  for (const t of top) t.share = totalUs > 0 ? t.selfMs * 1000 / totalUs : 0;
  const tid = threadIdOf(file);
  const label = tid === 0 ? null : workerLabel(profile, selfUs, root);
  return { file, thread: tid === 0 ? 'main' : `worker ${tid ?? '?'}${label ? ` (${label})` : ''}`, totalMs: totalUs / 1000, top };
}

/**
 * What a worker ran: its entry under workers/ when the profile shows it, else our script with
 * the most self time (tagged when the thread belongs to a piscina pool).
 */
function workerLabel(profile: CpuProfile, selfUs: Map<number, number>, root: string): string | null {
  const ours = (url: string) => url.startsWith('file://') && !url.includes('/node_modules/');
  const entry = profile.nodes.find((n) => ours(n.callFrame.url) && n.callFrame.url.includes('/workers/'));
  if (entry) return shorten(entry.callFrame.url, root);
  const pool = profile.nodes.some((n) => n.callFrame.url.includes('/node_modules/piscina/'));
  const byScript = new Map<string, number>();
  for (const n of profile.nodes) if (ours(n.callFrame.url)) byScript.set(n.callFrame.url, (byScript.get(n.callFrame.url) ?? 0) + (selfUs.get(n.id) ?? 0));
  const busiest = [...byScript].sort((a, b) => b[1] - a[1])[0]?.[0];
  const script = busiest ? shorten(busiest, root) : null;
  return pool ? `piscina${script ? ` ${script}` : ''}` : script;
}

function shorten(url: string, root: string): string {
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path;
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [`-- ${s.thread} (${basename(s.file)}): ${s.totalMs.toFixed(0)} ms sampled`];
  for (const t of s.top) lines.push(`   ${t.selfMs.toFixed(1).padStart(9)} ms  ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.name}${t.where ? `  ${t.where}` : ''}`);
  return lines.join('\n');
}
