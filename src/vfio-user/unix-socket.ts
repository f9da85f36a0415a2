// vfio-user's transport: an AF_UNIX stream socket whose messages may carry file descriptors
// (SCM_RIGHTS). Node's own sockets drop ancillary data, so the socket is usocket's (a small
// native addon built at install time). This module cuts the byte stream into messages by msg_size
// (codec.nextFrame) and gives each message the fds that came with it.
//
// Which message owns received fds: Linux hands fds out with the recvmsg that reads the first
// bytes of the sendmsg that carried them, and ends that recvmsg there, so they belong to the
// message holding the last byte of that read. Fds nobody took (a refused message, a socket
// closed with bytes pending) are closed here: nothing received ever leaks.
import { closeSync, unlinkSync, lstatSync } from 'node:fs';
import usocket, { type USocket, type UServer } from 'usocket';
import { isDecodeFailure, nextFrame, type DecodeFailure } from './codec.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './protocol.js';

export type CloseReason = 'eof' | 'eof-in-message' | 'error' | 'local';

export interface MessageSocketEvents {
  /** One whole message (its msg_size bytes) and the fds it carried; the receiver owns them. */
  message(bytes: Uint8Array, fds: number[]): void;
  /** A header whose msg_size cannot be framed: no more messages come; the socket stays open to answer. */
  framing(failure: DecodeFailure): void;
  /** The socket is closed (once). */
  close(reason: CloseReason): void;
}

/** Close fds, ignoring ones already gone. */
export function closeFds(fds: Iterable<number>): void {
  for (const fd of fds) {
    try { closeSync(fd); } catch { /* already closed */ }
  }
}

interface PendingFds { lastByte: number; fds: number[] }

/**
 * What a MessageSocket needs of its stream: usocket's socket has it. Spelled out here because
 * usocket ships no types and this project's declaration of it is not part of the package's.
 */
export interface FdStream {
  on(event: 'fds', listener: (fds: number[]) => void): unknown;
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  write(chunk: { data: Buffer; fds?: number[] }, cb: (error?: Error | null) => void): boolean;
  destroy(): unknown;
}

export class MessageSocket {
  readonly #sock: FdStream;
  readonly #maxMessageBytes: number;
  #events: MessageSocketEvents | null = null;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Stream position of the first buffered byte, and of the next byte to arrive. */
  #start = 0;
  #received = 0;
  #pending: PendingFds[] = [];
  #fdsAt: number[] | null = null;
  #stopped = false;
  #closed = false;

  constructor(sock: FdStream, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {
    this.#sock = sock;
    this.#maxMessageBytes = maxMessageBytes;
    sock.on('fds', (fds: number[]) => {
      // Emitted just before the bytes they came with are pushed.
      this.#fdsAt = [...(this.#fdsAt ?? []), ...fds];
    });
    sock.on('data', (data: Buffer) => this.#onData(data));
    sock.on('end', () => this.#finish(this.#buffered > 0 ? 'eof-in-message' : 'eof'));
    sock.on('error', () => this.#finish('error'));
    sock.on('close', () => this.#finish('error'));
  }

  /** Start delivering messages (those that arrived before are delivered now). */
  listen(events: MessageSocketEvents): void {
    this.#events = events;
    this.#drain();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #onData(data: Buffer): void {
    if (this.#closed) return;
    if (this.#fdsAt) {
      this.#pending.push({ lastByte: this.#received + data.length - 1, fds: this.#fdsAt });
      this.#fdsAt = null;
    }
    this.#received += data.length;
    if (this.#stopped) return;
    this.#chunks.push(data);
    this.#buffered += data.length;
    if (this.#events) this.#drain();
  }

  #drain(): void {
    while (!this.#stopped && !this.#closed && this.#events) {
      const head = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      this.#chunks = head.length ? [head] : [];
      const frame = nextFrame(head, this.#maxMessageBytes);
      if (isDecodeFailure(frame)) {
        this.#stopped = true;
        this.#events.framing(frame);
        return;
      }
      if (frame.kind === 'need') return;
      const end = this.#start + frame.bytes;
      const fds = this.#takeFds(end);
      const bytes = new Uint8Array(head.subarray(0, frame.bytes));
      this.#chunks = frame.bytes < head.length ? [head.subarray(frame.bytes)] : [];
      this.#buffered -= frame.bytes;
      this.#start = end;
      this.#events.message(bytes, fds);
    }
  }

  #takeFds(end: number): number[] {
    const fds: number[] = [];
    while (this.#pending.length > 0 && this.#pending[0]!.lastByte < end) fds.push(...this.#pending.shift()!.fds);
    return fds;
  }

  /** Send one message's bytes with `fds` attached; the fds stay the caller's. */
  send(bytes: Uint8Array, fds: readonly number[] = []): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('socket closed'));
    return new Promise((resolve, reject) => {
      const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.#sock.write(fds.length ? { data, fds: [...fds] } : { data }, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Close the socket and every fd received but not handed out; idempotent. */
  close(): void {
    this.#finish('local');
  }

  #finish(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFds(this.#pending.flatMap((p) => p.fds));
    closeFds(this.#fdsAt ?? []);
    this.#pending = [];
    this.#fdsAt = null;
    this.#chunks = [];
    try { this.#sock.destroy(); } catch { /* already gone */ }
    this.#events?.close(reason);
  }
}

export interface UnixListener {
  readonly path: string;
  /** Stop accepting and unlink the socket file; idempotent. */
  close(): void;
}

/**
 * Listen on `path`, replacing a stale socket file left by an earlier run (anything else at that
 * path is refused: EEXIST). Resolves once listening (bind and listen happen together).
 */
export function listenUnix(path: string, onConnection: (socket: MessageSocket) => void, maxMessageBytes?: number): Promise<UnixListener> {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
    else return Promise.reject(Object.assign(new Error(`${path} exists and is not a socket`), { code: 'EEXIST' }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return Promise.reject(error);
  }
  const server: UServer = new usocket.UServer();
  return new Promise((resolve, reject) => {
    let listening = false;
    server.on('error', (error) => { if (!listening) reject(error); });
    server.on('connection', (sock) => onConnection(new MessageSocket(sock, maxMessageBytes)));
    server.listen(path, 64, () => {
      listening = true;
      let closed = false;
      resolve({
        path,
        close: () => {
          if (closed) return;
          closed = true;
          server.close();
          try { unlinkSync(path); } catch { /* already gone */ }
        },
      });
    });
  });
}

/** Connect to a listening socket (a client: tests, tools). */
export function connectUnix(path: string, maxMessageBytes?: number): Promise<MessageSocket> {
  const sock: USocket = new usocket.USocket();
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => reject(error);
    sock.once('error', fail);
    sock.connect(path, () => {
      sock.off('error', fail);
      resolve(new MessageSocket(sock, maxMessageBytes));
    });
  });
}
