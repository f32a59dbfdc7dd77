import type { Change, ColumnValue, QualifiedName } from './change-log-types.ts';

/**
 * Parses test_decoding's text output (one row per change) into changes. The format, as
 * contrib/test_decoding prints it:
 *   table public.t: INSERT: id[integer]:1 name[text]:'it''s' note[text]:null
 *   table public.t: UPDATE: old-key: id[integer]:1 … new-tuple: id[integer]:1 …
 *   table public.t: DELETE: id[integer]:1 …            (or "(no-tuple-data)")
 *   table public.a, public.b: TRUNCATE: restart_seqs cascade   (or "(no-flags)")
 * Names are quote_identifier()ed, types are format_type() output, values are unquoted for numbers
 * and booleans, B'…' for bit strings, '…' with '' for everything else, `null`, or
 * `unchanged-toast-datum`. NULL columns are left out of old rows (`old-key:` and DELETE).
 */
export type RowChange = Exclude<Change, { kind: 'ddl' } | { kind: 'sequence' }>;

export function parseChange(data: string): RowChange | null {
  const p = new Cursor(data);
  if (!p.eat('table ')) return null;
  const tables: QualifiedName[] = [p.qualifiedName()];
  while (p.eat(', ')) tables.push(p.qualifiedName());
  p.expect(': ');
  const op = p.until(':');
  p.expect(': ');
  const table = tables[0];
  switch (op) {
    case 'INSERT':
      return { kind: 'insert', table, row: p.columns() ?? [] };
    case 'UPDATE': {
      let old: ColumnValue[] | null = null;
      if (p.eat('old-key: ')) old = p.columns('new-tuple: ');
      p.eat('new-tuple: ');
      const row = p.columns() ?? [];
      return { kind: 'update', table, old: old && withNulls(old, row), row };
    }
    case 'DELETE':
      return { kind: 'delete', table, old: p.columns() };
    case 'TRUNCATE':
      return { kind: 'truncate', tables };
    default:
      throw new Error(`unknown change "${op.slice(0, 20)}" in logical decoding output`);
  }
}

/** Old rows leave NULL columns out: put them back (as NULL) from the new row's column list. */
function withNulls(old: ColumnValue[], row: ColumnValue[]): ColumnValue[] {
  const byName = new Map(old.map((c) => [c.name, c]));
  if (old.length >= row.length) return old;
  return row.map((c) => byName.get(c.name) ?? { name: c.name, type: c.type, value: null });
}

class Cursor {
  private readonly s: string;
  private i = 0;

  constructor(s: string) {
    this.s = s;
  }

  eat(text: string): boolean {
    if (!this.s.startsWith(text, this.i)) return false;
    this.i += text.length;
    return true;
  }

  expect(text: string): void {
    if (!this.eat(text)) throw new Error(`logical decoding output: expected "${text}" at ${this.i}`);
  }

  until(ch: string): string {
    const end = this.s.indexOf(ch, this.i);
    if (end < 0) throw new Error(`logical decoding output: missing "${ch}"`);
    const out = this.s.slice(this.i, end);
    this.i = end;
    return out;
  }

  /** A quote_identifier() name: "…" with "" inside, or a bare lower-case name. */
  identifier(): string {
    if (this.s[this.i] === '"') {
      this.i++;
      return this.quoted('"', 'quoted name');
    }
    const m = /^[^\s.:,[\]"]+/.exec(this.s.slice(this.i, this.i + 200));
    if (!m) throw new Error(`logical decoding output: expected a name at ${this.i}`);
    this.i += m[0].length;
    return m[0];
  }

  /** The rest of a `q`-quoted text after its opening quote, a doubled `q` standing for one. */
  private quoted(q: string, what: string): string {
    let out = '';
    for (;;) {
      const end = this.s.indexOf(q, this.i);
      if (end < 0) throw new Error(`logical decoding output: unterminated ${what}`);
      out += this.s.slice(this.i, end);
      this.i = end + 1;
      if (this.s[this.i] !== q) return out;
      out += q;
      this.i++;
    }
  }

  qualifiedName(): QualifiedName {
    const first = this.identifier();
    if (!this.eat('.')) return { schema: 'public', name: first };
    return { schema: first, name: this.identifier() };
  }

  /** Columns up to the end (or to `stop`); null for "(no-tuple-data)". */
  columns(stop?: string): ColumnValue[] | null {
    if (this.eat('(no-tuple-data)')) return null;
    const out: ColumnValue[] = [];
    while (this.i < this.s.length) {
      if (stop && this.s.startsWith(stop, this.i)) break;
      const name = this.identifier();
      this.expect('[');
      const type = this.typeName();
      this.expect(':');
      out.push({ name, type, ...this.value() });
      this.eat(' ');
    }
    return out;
  }

  /** format_type() text up to the matching "]" (arrays nest brackets, quoted names may hold any). */
  private typeName(): string {
    const start = this.i;
    let depth = 1;
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === '"') {
        this.i = this.s.indexOf('"', this.i + 1) + 1;
        if (this.i === 0) break;
        continue;
      }
      if (c === '[') depth++;
      if (c === ']' && --depth === 0) {
        const out = this.s.slice(start, this.i);
        this.i++;
        return out;
      }
      this.i++;
    }
    throw new Error('logical decoding output: unterminated type name');
  }

  private value(): { value: string | null; unchanged?: true } {
    if (this.eat('null')) return { value: null };
    if (this.eat('unchanged-toast-datum')) return { value: null, unchanged: true };
    const bit = this.eat("B'");
    if (bit || this.s[this.i] === "'") {
      if (!bit) this.i++;
      return { value: this.quoted("'", 'value') };
    }
    const end = this.s.indexOf(' ', this.i);
    const out = this.s.slice(this.i, end < 0 ? this.s.length : end);
    this.i += out.length;
    return { value: out };
  }
}
