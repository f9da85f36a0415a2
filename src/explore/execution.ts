// One execution of a scenario under a chooser that decides, before every step, which actor takes
// it.
//
// Mechanism: re-execution. An actor is a plain synchronous function running dmalog's own code on
// the explore classes (memory.ts). When the chooser lets another actor go first, the access
// throws STOP and unwinds the actor; to resume it later, it is run again from its start with its
// accesses so far answered from its own record (no memory touched), up to the access it stopped
// at, which is then performed for real. An actor's code between two accesses is therefore
// exactly today's code, run unchanged, and an execution is a pure function of the choices: a
// schedule replays to the same steps and the same memory. Why not generators: every function on
// the data path (DirtyLog, IovaBitmap, runBurst) would have to become one, a second copy of the
// code. Why not a thread per actor behind an Atomics.wait turnstile: a context switch per step
// and a worker per actor, for scenarios whose steps cost nanoseconds; re-running an actor's
// prefix costs microseconds, and nothing can leak or hang. The price: actor code must not catch
// the STOP it cannot see (the data path has no catch), and must build its objects afresh per run.
import { DmalogError } from '../errors.js';
import { eventAccess, sameAccess, withHook, type Access, type AccessHook } from './memory.js';
import type { Op } from './scenario.js';
import type { World } from './world.js';

/** What a chooser sees before each step. */
export interface Decision {
  /** Steps taken so far. */
  step: number;
  /** Actor that took the last step (-1 before the first). */
  current: number;
  /** Actors that can take the next step, ascending. */
  enabled: readonly number[];
  /** Each actor's next step (null once it is done). */
  pending: readonly (Access | null)[];
  preemptions: number;
}

/** Index of the actor to run next, or -1 to abandon the execution (a search pruning it). */
export type Chooser = (d: Decision) => number;

export interface OpRecord {
  actor: number;
  index: number;
  op: Op;
  /** Step of its invocation and of its response (-1 while not reached). */
  invoke: number;
  response: number;
  /** Pages a recovery mark set (mark ops). */
  marked: number[];
}

export interface TraceStep {
  actor: number;
  access: Access;
  before: number;
  after: number;
  /** What the access returned (the old value of an RMW, the value loaded). */
  result: number;
  /** This step's actor took over from one that could have gone on: a preemption. */
  preempted: boolean;
}

/** What an actor's code may ask of the execution (actors.ts). */
export interface ActorContext {
  /** Ops of this actor whose invocation must wait for other ops' responses. */
  waitFor(refs: readonly string[]): void;
  begin(op: number): void;
  end(op: number, marked?: number[]): void;
}

export type ActorBody = (ctx: ActorContext) => void;

export interface ExecutionResult {
  aborted: boolean;
  /** Actor chosen at each step. */
  choices: number[];
  /** Whether each choice was what a replay does once its schedule runs out (see defaultChoice). */
  defaults: boolean[];
  preemptions: number;
  trace: TraceStep[];
  ops: OpRecord[][];
}

const STOP = Symbol('explore.stop');
const ABANDON = Symbol('explore.abandon');

/** What follows a schedule that ran out: the actor that took the last step if it can go on, else the first enabled. */
export function defaultChoice(d: Decision): number {
  return d.enabled.includes(d.current) ? d.current : d.enabled[0]!;
}

interface ActorState {
  index: number;
  name: string;
  body: ActorBody;
  /** Accesses performed, with what each returned. */
  log: Array<{ access: Access; result: number }>;
  pending: Access | null;
  /** The guard on the pending step: false while it waits for other ops. */
  guard: (() => boolean) | null;
  nextGuard: (() => boolean) | null;
  done: boolean;
  cursor: number;
}

export class Execution implements AccessHook {
  readonly #world: World;
  readonly #chooser: Chooser;
  readonly #actors: ActorState[];
  readonly #ops: OpRecord[][];
  readonly #trace: TraceStep[] = [];
  readonly #choices: number[] = [];
  readonly #defaults: boolean[] = [];
  #running: ActorState | null = null;
  #granted: ActorState | null = null;
  #probing = false;
  #nextPick = -1;
  #current = -1;
  #preemptions = 0;
  /** Per step: whether its choice was a preemption. */
  readonly #preempts: boolean[] = [];

  constructor(world: World, bodies: ActorBody[], chooser: Chooser) {
    this.#world = world;
    this.#chooser = chooser;
    const s = world.scenario;
    this.#actors = bodies.map((body, index) => ({ index, name: s.actors[index]!.name, body, log: [], pending: null, guard: null, nextGuard: null, done: false, cursor: 0 }));
    this.#ops = s.actors.map((a, actor) => a.ops.map((op, index) => ({ actor, index, op, invoke: -1, response: -1, marked: [] })));
  }

  run(): ExecutionResult {
    this.#world.reset();
    let aborted = false;
    withHook(this, () => {
      try {
        for (const a of this.#actors) this.#runActor(a, true);
        for (;;) {
          if (this.#actors.every((a) => a.done)) break;
          const pick = this.#nextPick >= 0 ? this.#nextPick : this.#decide();
          this.#nextPick = -1;
          this.#runActor(this.#actors[pick]!, false);
        }
      } catch (error) {
        if (error !== ABANDON) throw error;
        aborted = true;
      }
    });
    return { aborted, choices: this.#choices, defaults: this.#defaults, preemptions: this.#preemptions, trace: this.#trace, ops: this.#ops };
  }

  #deadlock(): never {
    const stuck = this.#actors.filter((a) => !a.done);
    throw new DmalogError('DMALOG_BAD_OPTION', `scenario deadlocks: ${stuck.map((a) => a.name).join(', ')} wait for ops that never end (check their "after")`);
  }

  #enabledActors(): number[] {
    const out: number[] = [];
    for (const a of this.#actors) if (!a.done && (a.guard === null || a.guard())) out.push(a.index);
    return out;
  }

  #decide(): number {
    const enabled = this.#enabledActors();
    if (enabled.length === 0) this.#deadlock();
    const decision: Decision = { step: this.#trace.length, current: this.#current, enabled, pending: this.#actors.map((a) => a.pending), preemptions: this.#preemptions };
    const pick = this.#chooser(decision);
    if (pick < 0) throw ABANDON;
    if (!enabled.includes(pick)) {
      const a = this.#actors[pick];
      throw new DmalogError('DMALOG_BAD_OPTION', `schedule step ${this.#trace.length + 1}: ${a ? `actor '${a.name}' is ${a.done ? 'done' : 'waiting'}` : `no actor ${pick}`} (enabled: ${enabled.map((i) => this.#actors[i]!.name).join(', ')})`);
    }
    this.#defaults.push(pick === defaultChoice(decision));
    const preempts = enabled.includes(this.#current) && pick !== this.#current;
    if (preempts) this.#preemptions++;
    this.#preempts.push(preempts);
    this.#choices.push(pick);
    this.#current = pick;
    return pick;
  }

  #runActor(a: ActorState, probe: boolean): void {
    this.#running = a;
    this.#probing = probe;
    this.#granted = probe ? null : a;
    a.cursor = 0;
    const ctx: ActorContext = {
      waitFor: (refs) => this.#waitFor(a, refs),
      begin: (op) => { this.step(eventAccess('begin', op), () => { this.#ops[a.index]![op]!.invoke = this.#trace.length + 1; return 0; }); },
      end: (op, marked) => {
        this.step(eventAccess('end', op), () => {
          const r = this.#ops[a.index]![op]!;
          r.response = this.#trace.length + 1;
          if (marked) r.marked = marked;
          return 0;
        });
      },
    };
    try {
      a.body(ctx);
      if (this.#granted === a || a.cursor < a.log.length) throw new DmalogError('DMALOG_STATE', `actor '${a.name}' did not repeat its steps when run again (explore needs deterministic actors)`);
      a.done = true;
      a.pending = null;
      a.guard = null;
    } catch (error) {
      if (error !== STOP) throw error;
    } finally {
      this.#running = null;
    }
  }

  #waitFor(a: ActorState, refs: readonly string[]): void {
    if (refs.length === 0 || a.cursor !== a.log.length) return; // a guard only matters on the live frontier
    const scenario = this.#world.scenario;
    const targets = refs.map((ref) => {
      const [name, op] = ref.split('#');
      const actor = scenario.actors.findIndex((x) => x.name === name);
      const ops = this.#ops[actor]!;
      return op === undefined ? ops : [ops[Number(op)]!];
    }).flat();
    a.nextGuard = () => targets.every((r) => r.response >= 0);
  }

  /** AccessHook: every step of the running actor comes through here. */
  step(access: Access, perform: () => number): number {
    const a = this.#running!;
    const k = a.cursor++;
    if (k < a.log.length) {
      const rec = a.log[k]!;
      if (!sameAccess(rec.access, access)) throw new DmalogError('DMALOG_STATE', `actor '${a.name}' took a different step ${k + 1} when run again (explore needs deterministic actors)`);
      return rec.result;
    }
    if (this.#granted !== a) {
      a.pending = access;
      a.guard = a.nextGuard;
      if (this.#probing) throw STOP;
      const pick = this.#decide();
      if (pick !== a.index) {
        this.#nextPick = pick;
        throw STOP;
      }
    }
    this.#granted = null;
    a.pending = null;
    a.guard = null;
    a.nextGuard = null;
    const preempted = this.#preempts[this.#trace.length]!;
    const before = this.#world.peek(access);
    const result = perform();
    const after = this.#world.peek(access);
    a.log.push({ access, result });
    this.#trace.push({ actor: a.index, access, before, after, result, preempted });
    return result;
  }
}
