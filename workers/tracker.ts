// A device's thread: builds its tracker from workerData, exposes it over comlink, answers the
// bare REPORT messages (protocol.ts), posts READY.
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../src/device/node-endpoint.js';
import { TRACKER_DEATH_EXIT_CODE, TRACKER_READY, TRACKER_REPORT, isReportMessage, type ReportAnswer, type TrackerWorkerData } from '../src/device/protocol.js';
import { Tracker } from '../src/device/tracker.js';

const tracker = new Tracker(workerData as TrackerWorkerData, () => process.exit(TRACKER_DEATH_EXIT_CODE));
Comlink.expose(tracker, nodeEndpoint(parentPort!));
parentPort!.on('message', (msg: unknown) => {
  if (!isReportMessage(msg) || !('req' in msg)) return;
  let answer: ReportAnswer;
  try {
    answer = { type: TRACKER_REPORT, id: msg.id, result: tracker.report(msg.req) };
  } catch (error) {
    answer = { type: TRACKER_REPORT, id: msg.id, thrown: (error as Error)?.message ?? String(error) };
  }
  parentPort!.postMessage(answer);
});
parentPort!.postMessage({ type: TRACKER_READY });
