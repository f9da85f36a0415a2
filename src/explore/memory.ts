// The explore side of the memory-access layer (src/util/shared-access.ts): subclasses of the
// data-path classes whose every shared access first hands control to the execution running it
// (execution.ts), which decides whether this actor goes on or another one runs first.
import { IovaBitmap } from '../bitmap/iova-bitmap.js';
import { ReportBitmap } from '../coordinator/report-bitmap.js';
import { VariantDirtyLog } from '../device/dirty-log.js';
import { DmalogError } from '../errors.js';
import { SharedAccess } from '../util/shared-access.js';

export type AccessKind = 'load' | 'store' | 'or' | 'and' | 'add' | 'exchange' | 'atomic-load' | 'atomic-store' | 'fill' | 'scan' | 'begin' | 'end';

/** One step of an actor: a shared access, or the invocation or response of one of its ops. */
export interface Access {
  kind: AccessKind;
  /** The memory touched; null for begin/end (they order only among themselves). */
  buffer: ArrayBufferLike | null;
  /** Bytes [byteStart, byteEnd) of `buffer`. */
  byteStart: number;
  byteEnd: number;
  /** Element size of the array accessed (1 or 4). */
  width: number;
  writes: boolean;
  /** The value stored, the mask ORed or ANDed; the op index for begin/end. */
  operand: number;
}

/** What runs an access: the execution in progress (there is at most one, in this thread). */
export interface AccessHook {
  step(access: Access, perform: () => number): number;
}

let active: AccessHook | null = null;

/** Run `body` with `hook` deciding every access of the explore classes. */
export function withHook<T>(hook: AccessHook, body: () => T): T {
  if (active !== null) throw new DmalogError('DMALOG_STATE', 'an exploration is already running in this thread');
  active = hook;
  try {
    return body();
  } finally {
    active = null;
  }
}

function hook(): AccessHook {
  if (active === null) throw new DmalogError('DMALOG_STATE', 'explore memory used outside an execution');
  return active;
}

type Elements = Int32Array | Uint8Array;

function describe(kind: AccessKind, a: Elements, i: number, operand: number, writes: boolean): Access {
  const at = a.byteOffset + i * a.BYTES_PER_ELEMENT;
  return { kind, buffer: a.buffer, byteStart: at, byteEnd: at + a.BYTES_PER_ELEMENT, width: a.BYTES_PER_ELEMENT, writes, operand };
}

/** Two steps that do not commute: the same bytes with a write among them, or two history events. */
export function dependent(x: Access, y: Access): boolean {
  if (x.buffer === null || y.buffer === null) return x.buffer === null && y.buffer === null;
  if (x.buffer !== y.buffer || x.byteEnd <= y.byteStart || y.byteEnd <= x.byteStart) return false;
  return x.writes || y.writes;
}

export function sameAccess(x: Access, y: Access): boolean {
  return x.kind === y.kind && x.buffer === y.buffer && x.byteStart === y.byteStart && x.byteEnd === y.byteEnd && x.operand === y.operand;
}

export function eventAccess(kind: 'begin' | 'end', op: number): Access {
  return { kind, buffer: null, byteStart: 0, byteEnd: 0, width: 0, writes: false, operand: op };
}

type Ctor<T> = new (...args: any[]) => T; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * `Base` with every SharedAccess method routed through the running execution. The real access
 * (super's) is performed only when the execution lets this actor take the step live.
 */
export function scheduled<C extends Ctor<SharedAccess>>(Base: C): C {
  return class extends Base {
    override load32(a: Int32Array, i: number): number {
      return hook().step(describe('load', a, i, 0, false), () => super.load32(a, i));
    }

    override store32(a: Int32Array, i: number, v: number): void {
      hook().step(describe('store', a, i, v, true), () => (super.store32(a, i, v), 0));
    }

    override or32(a: Int32Array, i: number, v: number): number {
      return hook().step(describe('or', a, i, v, true), () => super.or32(a, i, v));
    }

    override and32(a: Int32Array, i: number, v: number): number {
      return hook().step(describe('and', a, i, v, true), () => super.and32(a, i, v));
    }

    override exchange32(a: Int32Array, i: number, v: number): number {
      return hook().step(describe('exchange', a, i, v, true), () => super.exchange32(a, i, v));
    }

    override atomicLoad32(a: Int32Array, i: number): number {
      return hook().step(describe('atomic-load', a, i, 0, false), () => super.atomicLoad32(a, i));
    }

    override atomicStore32(a: Int32Array, i: number, v: number): void {
      hook().step(describe('atomic-store', a, i, v, true), () => (super.atomicStore32(a, i, v), 0));
    }

    override load8(a: Uint8Array, i: number): number {
      return hook().step(describe('load', a, i, 0, false), () => super.load8(a, i));
    }

    override store8(a: Uint8Array, i: number, v: number): void {
      hook().step(describe('store', a, i, v, true), () => (super.store8(a, i, v), 0));
    }

    override or8(a: Uint8Array, i: number, v: number): number {
      return hook().step(describe('or', a, i, v, true), () => super.or8(a, i, v));
    }

    override fill8(a: Uint8Array, v: number): void {
      const access: Access = { kind: 'fill', buffer: a.buffer, byteStart: a.byteOffset, byteEnd: a.byteOffset + a.byteLength, width: 1, writes: true, operand: v };
      hook().step(access, () => (super.fill8(a, v), 0));
    }

    override isZero8(a: Uint8Array, from: number, to: number): boolean {
      const access: Access = { kind: 'scan', buffer: a.buffer, byteStart: a.byteOffset + from, byteEnd: a.byteOffset + to, width: 1, writes: false, operand: to - from };
      return hook().step(access, () => (super.isZero8(a, from, to) ? 1 : 0)) === 1;
    }

    override add32(a: Int32Array, i: number, v: number): number {
      return hook().step(describe('add', a, i, v, true), () => super.add32(a, i, v));
    }
  };
}

/** dmalog's own classes, every access scheduled (a VariantDirtyLog with TODAYS_CODE is DirtyLog). */
export const ExploreDirtyLog = scheduled(VariantDirtyLog);
export const ExploreIovaBitmap = scheduled(IovaBitmap);
export const ExploreReportBitmap = scheduled(ReportBitmap);
/** For plain functions (the DMA engine's data store and generation reads). */
export const EXPLORE_ACCESS = new (scheduled(SharedAccess))();
