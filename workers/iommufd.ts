// An iommufd's thread: its object model, HWPT logs and dirty-tracking ioctls
// (src/iommufd/service.ts), exposed over comlink; posts READY once loaded.
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../src/device/node-endpoint.js';
import { IOMMUFD_READY, IommufdService, type IommufdInit } from '../src/iommufd/service.js';

Comlink.expose(new IommufdService(workerData as IommufdInit), nodeEndpoint(parentPort!));
parentPort!.postMessage({ type: IOMMUFD_READY });
