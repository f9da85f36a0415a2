// A little-endian C struct as a table of fields (offset and width): one decoder and one encoder
// serve every struct of the ABI, so a struct's layout is written once, beside its offsets. u32
// fields are numbers, u64 fields bigints. Decoding never validates (validate.ts does); encoding
// wraps each value to its width, as a C assignment would.
export type FieldWidth = 'u32' | 'u64';

/** Each field of T: its byte offset and width (u64 for bigint fields, u32 for number fields). */
export type StructLayout<T> = { readonly [K in keyof T]: readonly [offset: number, width: T[K] extends bigint ? 'u64' : 'u32'] };

export interface StructCodec<T> {
  decode: (view: DataView, at: number) => T;
  encode: (view: DataView, at: number, value: T) => void;
}

const LE = true;

export function structCodec<T extends { [K in keyof T]: number | bigint }>(layout: StructLayout<T>): StructCodec<T> {
  const fields = Object.entries(layout) as Array<[keyof T & string, readonly [number, FieldWidth]]>;
  return {
    decode: (view, at) => {
      const value: Record<string, number | bigint> = {};
      for (const [name, [offset, width]] of fields) value[name] = width === 'u64' ? view.getBigUint64(at + offset, LE) : view.getUint32(at + offset, LE);
      return value as T;
    },
    encode: (view, at, value) => {
      for (const [name, [offset, width]] of fields) {
        if (width === 'u64') view.setBigUint64(at + offset, BigInt.asUintN(64, value[name] as bigint), LE);
        else view.setUint32(at + offset, (value[name] as number) >>> 0, LE);
      }
    },
  };
}
