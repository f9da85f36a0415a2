// Types for the parts of usocket 1.1.0 (CommonJS, no types of its own) that unix-socket.ts uses.
declare module 'usocket' {
  import { Duplex } from 'node:stream';
  import { EventEmitter } from 'node:events';

  export class USocket extends Duplex {
    constructor(opts?: { fd?: number; path?: string; allowHalfOpen?: boolean } | string);
    connect(path: string, cb?: () => void): void;
    /** `data` with `fds` attached (SCM_RIGHTS on the first sendmsg of this write). */
    write(chunk: { data?: Buffer; fds?: number[]; callback?: () => void } | Buffer, cb?: (error?: Error | null) => void): boolean;
    destroy(): this;
    fd?: number;
    on(event: 'fds', listener: (fds: number[]) => void): this;
    on(event: 'data', listener: (data: Buffer) => void): this;
    on(event: 'connected' | 'end' | 'close', listener: () => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: string, listener: (...args: any[]) => void): this;
  }

  export class UServer extends EventEmitter {
    listen(path: string, backlog: number, cb?: () => void): void;
    listen(path: string, cb?: () => void): void;
    close(): void;
    fd?: number;
    on(event: 'connection', listener: (socket: USocket) => void): this;
    on(event: 'listening', listener: () => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
  }

  const usocket: { USocket: typeof USocket; UServer: typeof UServer };
  export default usocket;
}
