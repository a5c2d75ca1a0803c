// A small JSON value model with a parser and a serializer: enough for handlers that read and write
// JSON bodies without pulling in a dependency. Numbers are f64; object keys keep insertion order.

export namespace JSON {
  export const NULL: i32 = 0;
  export const BOOL: i32 = 1;
  export const NUM: i32 = 2;
  export const STR: i32 = 3;
  export const ARR: i32 = 4;
  export const OBJ: i32 = 5;

  /** Any JSON value; `kind` is one of NULL, BOOL, NUM, STR, ARR, OBJ. */
  export class Value {
    constructor(public kind: i32) {}
    /** The value as JSON text, e.g. `JSON.str("a\"b").stringify()` is `"a\"b"`. */
    stringify(): string { return "null"; }
    /** True for a JSON `null`. */
    get isNull(): bool { return this.kind == NULL; }
    /** The string, or "" when this is not a string. */
    asString(): string { return this.kind == STR ? (<Str>this).value : ""; }
    /** The number, or NaN when this is not a number. */
    asNumber(): f64 { return this.kind == NUM ? (<Num>this).value : NaN; }
    /** The boolean, or false when this is not a boolean. */
    asBool(): bool { return this.kind == BOOL ? (<Bool>this).value : false; }
    /** This value as an object, or null when it is not one. */
    asObj(): Obj | null { return this.kind == OBJ ? <Obj>this : null; }
    /** This value as an array, or null when it is not one. */
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
  /** A JSON array: `JSON.arr().pushString("a").pushNumber(1)` is `["a",1]`. */
  export class Arr extends Value {
    items: Array<Value> = [];
    constructor() { super(ARR); }
    push(v: Value): Arr { this.items.push(v); return this; }
    pushString(s: string): Arr { return this.push(new Str(s)); }
    pushNumber(n: f64): Arr { return this.push(new Num(n)); }
    pushBool(b: bool): Arr { return this.push(new Bool(b)); }
    get length(): i32 { return this.items.length; }
    /** The item at i, or a JSON null past the end. */
    at(i: i32): Value { return i >= 0 && i < this.items.length ? this.items[i] : new Null(); }
    stringify(): string {
      const parts = new Array<string>(this.items.length);
      for (let i = 0; i < this.items.length; i++) parts[i] = this.items[i].stringify();
      return "[" + parts.join(",") + "]";
    }
  }
  /**
   * A JSON object; keys keep insertion order. Reading tells an absent key from a null or empty one:
   * `has("k")` is false only when absent, `getString("k")` is null when absent or not a string,
   * `isNullAt("k")` is true only for `"k": null`.
   */
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
    setString(key: string, s: string): Obj { return this.set(key, new Str(s)); }
    setNumber(key: string, n: f64): Obj { return this.set(key, new Num(n)); }
    setBool(key: string, b: bool): Obj { return this.set(key, new Bool(b)); }
    setNull(key: string): Obj { return this.set(key, new Null()); }
    /** True when the key is present (even with a null value). */
    has(key: string): bool { return this.keys.indexOf(key) >= 0; }
    /** Removes a key; false when it was absent. */
    remove(key: string): bool {
      const i = this.keys.indexOf(key);
      if (i < 0) return false;
      this.keys.splice(i, 1);
      this.values.splice(i, 1);
      return true;
    }
    /** The value at key, or a JSON null when absent (use `has` to tell the two apart). */
    get(key: string): Value {
      const i = this.keys.indexOf(key);
      return i >= 0 ? this.values[i] : new Null();
    }
    /** True when the key is present with the value null. */
    isNullAt(key: string): bool { const i = this.keys.indexOf(key); return i >= 0 && this.values[i].kind == NULL; }
    /** The string at key, or null when the key is absent or its value is not a string. */
    getString(key: string): string | null { const v = this.get(key); return v.kind == STR ? (<Str>v).value : null; }
    /** The string at key, or `fallback` when absent or not a string. */
    getStringOr(key: string, fallback: string): string { const v = this.get(key); return v.kind == STR ? (<Str>v).value : fallback; }
    /** The number at key, or NaN when absent or not a number (test with `isNaN`). */
    getNumber(key: string): f64 { return this.get(key).asNumber(); }
    /** The number at key, or `fallback` when absent or not a number. */
    getNumberOr(key: string, fallback: f64): f64 { const v = this.get(key); return v.kind == NUM ? (<Num>v).value : fallback; }
    /** The boolean at key, or `fallback` when absent or not a boolean. */
    getBool(key: string, fallback: bool = false): bool { const v = this.get(key); return v.kind == BOOL ? (<Bool>v).value : fallback; }
    /** The object at key, or null when absent or not an object. */
    getObj(key: string): Obj | null { return this.get(key).asObj(); }
    /** The array at key, or null when absent or not an array. */
    getArr(key: string): Arr | null { return this.get(key).asArr(); }
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

  /**
   * A string as a JSON string literal: quotes, backslashes and control characters escaped,
   * other characters (non-ASCII included) as they are; a lone surrogate becomes \uXXXX so the
   * output is valid UTF-8.
   */
  export function quote(s: string): string {
    let out = "\"";
    let start = 0;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      let esc: string | null = null;
      if (c == 0x22) esc = "\\\"";
      else if (c == 0x5c) esc = "\\\\";
      else if (c < 0x20) {
        if (c == 0x0a) esc = "\\n"; else if (c == 0x0d) esc = "\\r"; else if (c == 0x09) esc = "\\t";
        else if (c == 0x08) esc = "\\b"; else if (c == 0x0c) esc = "\\f";
        else esc = hex4(c);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const pair = c <= 0xdbff && i + 1 < n && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
        if (pair) { i++; continue; }
        esc = hex4(c);
      }
      if (esc !== null) {
        out += s.substring(start, i) + esc;
        start = i + 1;
      }
    }
    return out + s.substring(start) + "\"";
  }

  function hex4(c: i32): string {
    const h = c.toString(16);
    return "\\u" + "0000".substring(h.length) + h;
  }

  function hexDigit(c: i32): i32 {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
    if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
    return -1;
  }

  const MAX_DEPTH: i32 = 256;

  function isDigit(c: i32): bool { return c >= 0x30 && c <= 0x39; }

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
    /** A number as JSON's grammar has it: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
    number(): Value | null {
      const s = this.s;
      const start = this.pos;
      let p = this.pos;
      if (p < s.length && s.charCodeAt(p) == 0x2d) p++;
      if (p >= s.length) return null;
      if (s.charCodeAt(p) == 0x30) p++;
      else { const d = p; while (p < s.length && isDigit(s.charCodeAt(p))) p++; if (p == d) return null; }
      if (p < s.length && s.charCodeAt(p) == 0x2e) {
        p++;
        const d = p; while (p < s.length && isDigit(s.charCodeAt(p))) p++; if (p == d) return null;
      }
      if (p < s.length && (s.charCodeAt(p) == 0x65 || s.charCodeAt(p) == 0x45)) {
        p++;
        if (p < s.length && (s.charCodeAt(p) == 0x2b || s.charCodeAt(p) == 0x2d)) p++;
        const d = p; while (p < s.length && isDigit(s.charCodeAt(p))) p++; if (p == d) return null;
      }
      this.pos = p;
      return new Num(parseFloat(s.substring(start, p)));
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
            let code = 0;
            for (let k = 0; k < 4; k++) {
              const d = hexDigit(this.s.charCodeAt(this.pos + k));
              if (d < 0) return null;
              code = (code << 4) | d;
            }
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
