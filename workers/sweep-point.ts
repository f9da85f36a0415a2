// A thread of the sweep pool (src/sweep/pool.ts): runs one sweep point (a migration) per task.
import { runPoint } from '../src/sweep/run-point.js';

export default runPoint;
