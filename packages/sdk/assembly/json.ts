// A small JSON value model with a parser and a serializer: enough for handlers that read and write
// JSON bodies without pulling in a dependency. Numbers are f64; object keys keep insertion order.

export namespace JSON {
  export const NULL: i32 = 0;
  export const BOOL: i32 = 1;
  export const NUM: i32 = 2;
  export const STR: i32 = 3;
  export const ARR: i32 = 4;
  export const OBJ: i32 = 5;

  export class Value {
    constructor(public kind: i32) {}
    stringify(): string { return "null"; }
    get isNull(): bool { return this.kind == NULL; }
    /** The string, or "" when this is not a string. */
    asString(): string { return this.kind == STR ? (<Str>this).value : ""; }
    /** The number, or NaN when this is not a number. */
    asNumber(): f64 { return this.kind == NUM ? (<Num>this).value : NaN; }
    asBool(): bool { return this.kind == BOOL ? (<Bool>this).value : false; }
    asObj(): Obj | null { return this.kind == OBJ ? <Obj>this : null; }
    asArr(): Arr | null { return this.kind == ARR ? <Arr>this : null; }
  }

  export class Null extends Value {
    constructor() { super(NULL); }
    stringify(): string { return "null"; }
  }
  export class Bool extends Value {
    constructor(public value: bool) { super(BOOL); }
    stringify(): string { return this.value ? "true" : "false"; }
  }
  export class Num extends Value {
    constructor(public value: f64) { super(NUM); }
    stringify(): string {
      if (!isFinite(this.value)) return "null";
      if (this.value == Math.floor(this.value) && Math.abs(this.value) < 9007199254740992) return (<i64>this.value).toString();
      return this.value.toString();
    }
  }
  export class Str extends Value {
    constructor(public value: string) { super(STR); }
    stringify(): string { return quote(this.value); }
  }
  export class Arr extends Value {
    items: Array<Value> = [];
    constructor() { super(ARR); }
    push(v: Value): Arr { this.items.push(v); return this; }
    get length(): i32 { return this.items.length; }
    at(i: i32): Value { return i >= 0 && i < this.items.length ? this.items[i] : new Null(); }
    stringify(): string {
      const parts = new Array<string>(this.items.length);
      for (let i = 0; i < this.items.length; i++) parts[i] = this.items[i].stringify();
      return "[" + parts.join(",") + "]";
    }
  }
  export class Obj extends Value {
    keys: Array<string> = [];
    values: Array<Value> = [];
    constructor() { super(OBJ); }
    /** Sets (or replaces) a key. */
    set(key: string, v: Value): Obj {
      const i = this.keys.indexOf(key);
      if (i >= 0) this.values[i] = v; else { this.keys.push(key); this.values.push(v); }
      return this;
    }
    has(key: string): bool { return this.keys.indexOf(key) >= 0; }
    /** The value at key, or a Null value when absent. */
    get(key: string): Value {
      const i = this.keys.indexOf(key);
      return i >= 0 ? this.values[i] : new Null();
    }
    getString(key: string): string { return this.get(key).asString(); }
    getNumber(key: string): f64 { return this.get(key).asNumber(); }
    stringify(): string {
      const parts = new Array<string>(this.keys.length);
      for (let i = 0; i < this.keys.length; i++) parts[i] = quote(this.keys[i]) + ":" + this.values[i].stringify();
      return "{" + parts.join(",") + "}";
    }
  }

  export function str(s: string): Str { return new Str(s); }
  export function num(n: f64): Num { return new Num(n); }
  export function boolOf(b: bool): Bool { return new Bool(b); }
  export function nil(): Null { return new Null(); }
  export function obj(): Obj { return new Obj(); }
  export function arr(): Arr { return new Arr(); }

  /** Parses JSON text; returns null when it is not valid JSON. */
  export function parse(text: string): Value | null {
    const p = new Parser(text);
    p.ws();
    const v = p.value(0);
    if (v === null) return null;
    p.ws();
    return p.pos == text.length ? v : null;
  }

  export function quote(s: string): string {
    let out = "\"";
    let start = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c == 0x22 || c == 0x5c || c < 0x20) {
        out += s.substring(start, i);
        if (c == 0x22) out += "\\\"";
        else if (c == 0x5c) out += "\\\\";
        else if (c == 0x0a) out += "\\n";
        else if (c == 0x0d) out += "\\r";
        else if (c == 0x09) out += "\\t";
        else out += "\\u00" + (c < 16 ? "0" : "") + c.toString(16);
        start = i + 1;
      }
    }
    return out + s.substring(start) + "\"";
  }

  const MAX_DEPTH: i32 = 256;

  class Parser {
    pos: i32 = 0;
    constructor(public s: string) {}
    ws(): void {
      while (this.pos < this.s.length) {
        const c = this.s.charCodeAt(this.pos);
        if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) this.pos++; else break;
      }
    }
    value(depth: i32): Value | null {
      if (this.pos >= this.s.length || depth > MAX_DEPTH) return null;
      const c = this.s.charCodeAt(this.pos);
      if (c == 0x7b) return this.object(depth);
      if (c == 0x5b) return this.array(depth);
      if (c == 0x22) { const t = this.string(); return t === null ? null : new Str(t); }
      if (this.word("true")) return new Bool(true);
      if (this.word("false")) return new Bool(false);
      if (this.word("null")) return new Null();
      return this.number();
    }
    word(w: string): bool {
      if (this.s.substr(this.pos, w.length) == w) { this.pos += w.length; return true; }
      return false;
    }
    number(): Value | null {
      const start = this.pos;
      while (this.pos < this.s.length) {
        const c = this.s.charCodeAt(this.pos);
        if ((c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45) this.pos++; else break;
      }
      if (start == this.pos) return null;
      const t = this.s.substring(start, this.pos);
      const n = parseFloat(t);
      if (isNaN(n)) return null;
      return new Num(n);
    }
    string(): string | null {
      this.pos++; // opening quote
      let out = "";
      let start = this.pos;
      while (this.pos < this.s.length) {
        const c = this.s.charCodeAt(this.pos);
        if (c == 0x22) { out += this.s.substring(start, this.pos); this.pos++; return out; }
        if (c < 0x20) return null;
        if (c == 0x5c) {
          out += this.s.substring(start, this.pos);
          if (this.pos + 1 >= this.s.length) return null;
          const e = this.s.charCodeAt(this.pos + 1);
          this.pos += 2;
          if (e == 0x6e) out += "\n"; else if (e == 0x74) out += "\t"; else if (e == 0x72) out += "\r";
          else if (e == 0x62) out += "\b"; else if (e == 0x66) out += "\f";
          else if (e == 0x22 || e == 0x5c || e == 0x2f) out += String.fromCharCode(e);
          else if (e == 0x75) {
            if (this.pos + 4 > this.s.length) return null;
            const code = I32.parseInt(this.s.substr(this.pos, 4), 16);
            if (isNaN(<f64>code)) return null;
            out += String.fromCharCode(code);
            this.pos += 4;
          } else return null;
          start = this.pos;
        } else this.pos++;
      }
      return null;
    }
    array(depth: i32): Value | null {
      this.pos++;
      const a = new Arr();
      this.ws();
      if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x5d) { this.pos++; return a; }
      while (true) {
        this.ws();
        const v = this.value(depth + 1);
        if (v === null) return null;
        a.items.push(v);
        this.ws();
        if (this.pos >= this.s.length) return null;
        const c = this.s.charCodeAt(this.pos++);
        if (c == 0x5d) return a;
        if (c != 0x2c) return null;
      }
    }
    object(depth: i32): Value | null {
      this.pos++;
      const o = new Obj();
      this.ws();
      if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x7d) { this.pos++; return o; }
      while (true) {
        this.ws();
        if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x22) return null;
        const k = this.string();
        if (k === null) return null;
        this.ws();
        if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x3a) return null;
        this.pos++;
        this.ws();
        const v = this.value(depth + 1);
        if (v === null) return null;
        o.set(k, v);
        this.ws();
        if (this.pos >= this.s.length) return null;
        const c = this.s.charCodeAt(this.pos++);
        if (c == 0x7d) return o;
        if (c != 0x2c) return null;
      }
    }
  }
}
