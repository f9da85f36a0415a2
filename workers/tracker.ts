// A device's thread: builds its driver (src/device/driver.ts) from workerData, exposes it over
// comlink, serves the bare REPORT messages (protocol.ts), posts READY.
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../src/device/node-endpoint.js';
import { TRACKER_DEATH_EXIT_CODE, TRACKER_READY, serveReports, type TrackerWorkerData } from '../src/device/protocol.js';
import { DeviceDriver } from '../src/device/driver.js';

const driver = new DeviceDriver(workerData as TrackerWorkerData, () => process.exit(TRACKER_DEATH_EXIT_CODE));
Comlink.expose(driver, nodeEndpoint(parentPort!));
serveReports(parentPort!, driver);
parentPort!.postMessage({ type: TRACKER_READY });
