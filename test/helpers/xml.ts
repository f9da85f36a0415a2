// A strict little XML reader for the HTML reports (written as well-formed XML): any unbalanced
// tag, bad attribute or stray '&' or '<' throws, so a test that parses a report also checks it.
export interface Element { name: string; attrs: Record<string, string>; children: Element[]; text: string }

/** A strict little XML reader: any unbalanced tag, bad attribute or stray '&' or '<' throws. */
export function parseXml(source: string): Element {
  const doc = source.replace(/^<!DOCTYPE html>\s*/, '');
  const root: Element = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: Element[] = [root];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let at = 0;
  while (at < doc.length) {
    const lt = doc.indexOf('<', at);
    const text = doc.slice(at, lt < 0 ? doc.length : lt);
    if (/&(?!(?:amp|lt|gt|quot|#39);)/.test(text)) throw new Error(`bad entity near ${at}`);
    stack.at(-1)!.text += text;
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(doc);
    if (!m) throw new Error(`malformed tag at ${lt}: ${doc.slice(lt, lt + 40)}`);
    const [, close, name, rawAttrs, selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
    } else {
      const attrs: Record<string, string> = {};
      for (const a of rawAttrs!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]}`);
        attrs[a[1]!] = a[2]!;
      }
      const el: Element = { name: name!, attrs, children: [], text: '' };
      stack.at(-1)!.children.push(el);
      if (!selfClose) stack.push(el);
    }
    at = tag.lastIndex;
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  return root;
}

export function all(el: Element, pred: (e: Element) => boolean, out: Element[] = []): Element[] {
  if (pred(el)) out.push(el);
  for (const c of el.children) all(c, pred, out);
  return out;
}

/** Elements with this id (exactly one expected). */
export function byId(root: Element, id: string): Element {
  const found = all(root, (e) => e.attrs['id'] === id);
  if (found.length !== 1) throw new Error(`${found.length} elements with id ${id}`);
  return found[0]!;
}

/** Elements whose class list holds `cls`. */
export function byClass(root: Element, cls: string): Element[] {
  return all(root, (e) => (e.attrs['class'] ?? '').split(/\s+/).includes(cls));
}

/** Every table has a header or body row with a cell: no report shows an empty table. */
export function emptyTables(root: Element): Element[] {
  return all(root, (e) => e.name === 'table').filter((t) => all(t, (e) => e.name === 'td').length === 0);
}

/** Text content, children included. */
export function textOf(el: Element): string {
  return el.text + el.children.map(textOf).join('');
}
