// Profile locations in the sources people edit: a frame in dist/src/x.js is shown at src/x.ts
// through the .js.map tsc writes beside it (the package ships both). Node's own SourceMap class
// decodes them; a file without a map keeps its own location.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallFrame, LocationMapper } from './cpuprofile.js';

function loadMap(file: string): { map: SourceMap; dir: string } | null {
  const mapFile = `${file}.map`;
  if (!existsSync(mapFile)) return null;
  try {
    const payload = JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload;
    return { map: new SourceMap(payload), dir: resolve(dirname(mapFile), payload.sourceRoot ?? '') };
  } catch {
    return null; // an unreadable map: the generated location is still right
  }
}

/** Paths under `root` relative to it, else under the current directory relative to that, else whole. */
function shown(path: string, root: string): string {
  for (const base of [root, process.cwd()]) {
    const rel = relative(base, path);
    if (!rel.startsWith('..') && !isAbsolute(rel)) return rel;
  }
  return path;
}

/**
 * A mapper from a frame to `path:line` of its original source (1-based line), paths relative to
 * `root`; `node:` frames and frames without a map keep their generated location.
 */
export function sourceMapper(root: string): LocationMapper {
  const maps = new Map<string, ReturnType<typeof loadMap>>();
  return (frame: CallFrame) => {
    if (frame.url === '') return '';
    if (!frame.url.startsWith('file://')) return `${frame.url}:${frame.lineNumber + 1}`;
    const file = fileURLToPath(frame.url);
    if (!maps.has(file)) maps.set(file, loadMap(file));
    const loaded = maps.get(file);
    if (loaded) {
      const entry = loaded.map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number };
      if (entry.originalSource !== undefined && entry.originalLine !== undefined) {
        const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(loaded.dir, entry.originalSource);
        // Only a source one can open: a library's map may name sources it does not ship.
        if (existsSync(source)) return `${shown(source, root)}:${entry.originalLine + 1}`;
      }
    }
    return `${shown(file, root)}:${frame.lineNumber + 1}`;
  };
}
