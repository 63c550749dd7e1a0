// An independent Sparkplug B payload decoder for tests: it reads the protobuf wire format directly (field numbers
// from sparkplug_b.proto), sharing no code with the Tahu codec the monitor encodes with, so an encoding mistake
// cannot cancel itself out.

export const DATATYPE_NAMES: Record<number, string> = {
  1: "Int8", 2: "Int16", 3: "Int32", 4: "Int64", 5: "UInt8", 6: "UInt16", 7: "UInt32", 8: "UInt64",
  9: "Float", 10: "Double", 11: "Boolean", 12: "String", 13: "DateTime", 14: "Text", 15: "UUID",
};

export interface WireMetric {
  name?: string;
  timestamp?: bigint;
  datatype?: number;
  /** The datatype's name, e.g. "UInt64". */
  type?: string;
  isNull?: boolean;
  value?: bigint | number | boolean | string | Uint8Array;
}

export interface WirePayload {
  timestamp?: bigint;
  seq?: bigint;
  uuid?: string;
  metrics: WireMetric[];
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly end = buf.length) {}

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error("varint too long");
    }
  }

  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (this.pos + len > this.end) throw new Error("truncated length-delimited field");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  fixed(n: 4 | 8): DataView {
    if (this.pos + n > this.end) throw new Error("truncated fixed field");
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, n);
    this.pos += n;
    return view;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.fixed(8);
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.fixed(4);
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

const text = new TextDecoder("utf-8", { fatal: true });

export function decodeWirePayload(buf: Uint8Array): WirePayload {
  const r = new Reader(buf);
  const payload: WirePayload = { metrics: [] };
  while (!r.done()) {
    const key = Number(r.varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 1 && wire === 0) payload.timestamp = r.varint();
    else if (field === 2 && wire === 2) payload.metrics.push(decodeMetric(r.bytes()));
    else if (field === 3 && wire === 0) payload.seq = r.varint();
    else if (field === 4 && wire === 2) payload.uuid = text.decode(r.bytes());
    else r.skip(wire);
  }
  return payload;
}

function decodeMetric(buf: Uint8Array): WireMetric {
  const r = new Reader(buf);
  const m: WireMetric = {};
  while (!r.done()) {
    const key = Number(r.varint());
    const field = key >>> 3;
    const wire = key & 7;
    switch (field) {
      case 1: m.name = text.decode(r.bytes()); break;
      case 3: m.timestamp = r.varint(); break;
      case 4: m.datatype = Number(r.varint()); m.type = DATATYPE_NAMES[m.datatype] ?? `Unknown(${m.datatype})`; break;
      case 7: m.isNull = r.varint() !== 0n; break;
      case 10: m.value = Number(r.varint() & 0xffffffffn); break;
      case 11: m.value = r.varint(); break;
      case 12: m.value = r.fixed(4).getFloat32(0, true); break;
      case 13: m.value = r.fixed(8).getFloat64(0, true); break;
      case 14: m.value = r.varint() !== 0n; break;
      case 15: m.value = text.decode(r.bytes()); break;
      case 16: m.value = r.bytes(); break;
      default: r.skip(wire);
    }
  }
  return m;
}

/** The metrics as name → {type, value}, for compact assertions. */
export function metricsByName(payload: WirePayload): Record<string, { type?: string; value: WireMetric["value"] }> {
  return Object.fromEntries(payload.metrics.map((m) => [m.name ?? "", { type: m.type, value: m.value }]));
}
