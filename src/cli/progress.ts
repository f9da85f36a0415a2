// The progress line of long runs: rewritten in place on a terminal (cut to its width), one plain
// line per update otherwise, so logs and CI output stay readable.
export interface Progress {
  readonly live: boolean;
  update(line: string): void;
  /** Ends a live line with a newline, so what follows starts on its own line. */
  end(): void;
}

export function createProgress(out: NodeJS.WriteStream): Progress {
  const live = out.isTTY === true;
  let wrote = false;
  return {
    live,
    update(line) {
      wrote = true;
      if (live) out.write(`\r\x1b[K${line.slice(0, Math.max(20, (out.columns || 120) - 1))}`);
      else out.write(`${line}\n`);
    },
    end() {
      if (live && wrote) out.write('\n');
    },
  };
}
