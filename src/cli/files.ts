// Files named on the command line, checked before a run starts: an input file must be a small
// regular file (not /dev/zero, a FIFO, a directory), an output path a regular file in a directory
// that exists, so that a bad path is one usage line up front, not a stack trace after the run.
import { accessSync, closeSync, constants, fstatSync, mkdirSync, openSync, readSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './args.js';

/** The largest input file read (a scenario is a few hundred bytes). */
export const MAX_INPUT_BYTES = 1 << 20;
/** The one output directory created when missing: the default one (`npm start` writes out/report.html). */
export const DEFAULT_OUTPUT_DIR = 'out';

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'error';
}

/** Reads `file` as UTF-8 text: a regular file of at most `maxBytes`. */
export function readInputFile(file: string, what: string, maxBytes = MAX_INPUT_BYTES): string {
  let fd: number;
  try {
    // stat before open: opening a FIFO would block until a writer comes.
    if (!statSync(file).isFile()) throw new UsageError(`${what} ${file}: not a regular file`);
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${what} ${file}: cannot read it (${codeOf(error)})`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new UsageError(`${what} ${file}: not a regular file`);
    // Read one byte past the cap: the size stat reports can be 0 (procfs) or change meanwhile.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0;) length += n;
    if (length > maxBytes) throw new UsageError(`${what} ${file}: larger than ${maxBytes} bytes`);
    return buffer.toString('utf8', 0, length);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${what} ${file}: cannot read it (${codeOf(error)})`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks that `file` can be written as a regular file: an existing one must be a writable regular
 * file; a new one needs its directory to exist and be writable. No directory is created except
 * `out/` under the current directory (the default report's), and only that one level.
 */
export function checkOutputFile(file: string, what: string): void {
  if (file === '' || file.endsWith('/') || file.endsWith(path.sep)) throw new UsageError(`${what} '${file}': names a directory, not a file`);
  const resolved = path.resolve(file);
  try {
    const st = statSync(resolved);
    if (!st.isFile()) throw new UsageError(`${what} ${file}: not a regular file (${st.isDirectory() ? 'a directory' : 'a device, FIFO or socket'})`);
    // Opened for writing, not truncated: access() says yes to root on a read-only file system.
    closeSync(openSync(resolved, constants.O_WRONLY | constants.O_NONBLOCK));
    return;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (codeOf(error) !== 'ENOENT') throw new UsageError(`${what} ${file}: cannot write it (${codeOf(error)})`);
  }
  const dir = path.dirname(resolved);
  try {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (st === undefined && dir === path.resolve(DEFAULT_OUTPUT_DIR)) mkdirSync(dir);
    else if (st === undefined) throw new UsageError(`${what} ${file}: directory ${path.dirname(file)} does not exist (it is not created)`);
    else if (!st.isDirectory()) throw new UsageError(`${what} ${file}: ${path.dirname(file)} is not a directory`);
    accessSync(dir, constants.W_OK | constants.X_OK);
    // Created and removed again: only that proves the file can be made there (root passes
    // access() in /proc, /sys or on a read-only mount, and would fail only after the run).
    closeSync(openSync(resolved, 'wx'));
    unlinkSync(resolved);
  } catch (error) {
    // Made meanwhile by someone else (another run's own check): the directory takes files.
    if (codeOf(error) === 'EEXIST') return;
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${what} ${file}: cannot write in ${path.dirname(file)} (${codeOf(error)})`);
  }
}

/** Writes `text` to a path checkOutputFile passed; a failure (ENOSPC, EIO) is one usage line. */
export function writeOutputFile(file: string, what: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (error) {
    throw new UsageError(`${what} ${file}: cannot write it (${codeOf(error)})`);
  }
}

/**
 * Makes directory `dir` and its missing parents, one level at a time (Node's recursive mkdir
 * loops for ever under /proc), or refuses it in one usage line: a path that exists and is not a
 * directory, or a level that cannot be made.
 */
export function makeDirectory(dir: string, what: string): void {
  const make = (at: string): void => {
    let st;
    try {
      st = statSync(at, { throwIfNoEntry: false });
    } catch (error) {
      throw new UsageError(`${what} ${dir}: cannot create it (${codeOf(error)} at ${at})`);
    }
    if (st !== undefined) {
      if (!st.isDirectory()) throw new UsageError(`${what} ${dir}: ${at} is not a directory`);
      return;
    }
    if (path.dirname(at) !== at) make(path.dirname(at));
    try {
      mkdirSync(at);
    } catch (error) {
      if (codeOf(error) === 'EEXIST' && statSync(at, { throwIfNoEntry: false })?.isDirectory()) return;
      throw new UsageError(`${what} ${dir}: cannot create it (${codeOf(error)} at ${at})`);
    }
  };
  make(path.resolve(dir));
}
