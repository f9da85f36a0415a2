// The bare transport baselines for perf/report-set.bench.ts: a thread exposing one method that
// does nothing, over the same endpoint adapter the trackers use, and answering BARE_PING
// messages on the same port (a round trip with no comlink bookkeeping, as REPORT travels).
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../../src/device/node-endpoint.js';
import { BARE_PING } from './floor-wire.js';

export const pingTarget = { ping: (): number => 0 };
Comlink.expose(pingTarget, nodeEndpoint(parentPort!));
parentPort!.on('message', (msg: unknown) => { if (msg === BARE_PING) parentPort!.postMessage(BARE_PING); });
parentPort!.postMessage('ready');
