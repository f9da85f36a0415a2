// The bare comlink baseline for perf/report-set.bench.ts: a thread exposing one method that
// does nothing, over the same endpoint adapter the trackers use.
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../../src/device/node-endpoint.js';

export const pingTarget = { ping: (): number => 0 };
Comlink.expose(pingTarget, nodeEndpoint(parentPort!));
parentPort!.postMessage('ready');
