// What the transport-floor threads of perf/report-set.bench.ts share with it (no side effects:
// the bench imports this, not the thread entries).

/** A message a ping thread echoes on its port, outside comlink. */
export const BARE_PING = 'bare-ping';

/** Int32 cells of a wake thread's slot: the host bumps REQUEST, the thread copies it to ANSWER. */
export const REQUEST = 0;
export const ANSWER = 1;
export interface WakeData { slot: SharedArrayBuffer; mode: 'blocking' | 'async' }
