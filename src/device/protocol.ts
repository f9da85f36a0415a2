// What crosses between the host thread and a device's tracker thread. Tracker methods travel
// over comlink and return result objects (`{ errno }` on failure), so nothing is lost in the
// hop; the only extra message is READY, posted once the worker has loaded.
import type { TrackerInit } from './tracker.js';

export const TRACKER_READY = 'dmalog:tracker-ready' as const;
export interface ReadyMessage { type: typeof TRACKER_READY }

export function isReadyMessage(data: unknown): data is ReadyMessage {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === TRACKER_READY;
}

/** `workerData` of a tracker thread. */
export type TrackerWorkerData = TrackerInit;

/** Exit code a tracker thread uses when a fault kills it on purpose. */
export const TRACKER_DEATH_EXIT_CODE = 70;
