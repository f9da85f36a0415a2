// What crosses between the host thread and a device's tracker thread. Tracker methods travel
// over comlink and return result objects (`{ errno }` on failure), so nothing is lost in the
// hop. Two extra messages: READY, posted once the worker has loaded, and REPORT, the hot call,
// as a bare message on the same port: comlink's own bookkeeping (a proxy and a random id per
// call) makes 16 round trips at once 1.7-2.4 x slower than bare messages (perf/RESULTS.md, Targets).
// One port carries both, in order, and the tracker runs each call as it arrives, so REPORT
// never overtakes START or STOP.
import type { ReportRequest } from '../uapi/validate.js';
import type { Checked } from '../util/result.js';
import type { ReportResult, DeviceDriver, DriverInit } from './driver.js';

export const TRACKER_READY = 'dmalog:tracker-ready' as const;
export interface ReadyMessage { type: typeof TRACKER_READY }

export function isReadyMessage(data: unknown): data is ReadyMessage {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === TRACKER_READY;
}

/** `workerData` of a tracker thread. */
export type TrackerWorkerData = DriverInit;

/** Exit code a tracker thread uses when a fault kills it on purpose. */
export const TRACKER_DEATH_EXIT_CODE = 70;

export const TRACKER_REPORT = 'dmalog:tracker-report' as const;
/** Host → tracker: run `DeviceDriver.report(req)`; `id` matches the answer to its call. */
export interface ReportCall { type: typeof TRACKER_REPORT; id: number; req: ReportRequest }
/** Tracker → host: the result, or the message of what `report` threw (a broken driver). */
export type ReportAnswer = { type: typeof TRACKER_REPORT; id: number } & ({ result: Checked<ReportResult> } | { thrown: string });

export function isReportMessage(data: unknown): data is ReportCall | ReportAnswer {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === TRACKER_REPORT;
}

interface Port {
  on(event: 'message', listener: (data: unknown) => void): unknown;
  postMessage(message: unknown): void;
}

/** Tracker side of the bare REPORT message: run it, answer with the result or what it threw. */
export function serveReports(port: Port, tracker: Pick<DeviceDriver, 'report'>): void {
  port.on('message', (msg: unknown) => {
    if (!isReportMessage(msg) || !('req' in msg)) return;
    let answer: ReportAnswer;
    try {
      answer = { type: TRACKER_REPORT, id: msg.id, result: tracker.report(msg.req) };
    } catch (error) {
      answer = { type: TRACKER_REPORT, id: msg.id, thrown: (error as Error)?.message ?? String(error) };
    }
    port.postMessage(answer);
  });
}
