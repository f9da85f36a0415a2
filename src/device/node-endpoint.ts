// comlink speaks the DOM's MessagePort; Node's worker ports emit 'message' with the data itself.
// This maps one onto the other (comlink's own node adapter does the same; owning it avoids a
// deep import and its missing types).
import type { Endpoint } from 'comlink';

interface NodePort {
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
  on(event: 'message', listener: (data: unknown) => void): unknown;
  off(event: 'message', listener: (data: unknown) => void): unknown;
  start?: () => void;
}

type Handler = ((event: { data: unknown }) => void) | { handleEvent(event: { data: unknown }): void };

export function nodeEndpoint(port: NodePort): Endpoint {
  const bound = new WeakMap<object, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: unknown[]) => port.postMessage(message, transfer as never),
    addEventListener: (_type: string, handler: Handler) => {
      const listener = (data: unknown) => {
        if (typeof handler === 'function') handler({ data });
        else handler.handleEvent({ data });
      };
      port.on('message', listener);
      bound.set(handler, listener);
    },
    removeEventListener: (_type: string, handler: Handler) => {
      const listener = bound.get(handler);
      if (!listener) return;
      port.off('message', listener);
      bound.delete(handler);
    },
    start: port.start?.bind(port),
  } as unknown as Endpoint;
}
