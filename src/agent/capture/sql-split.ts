/**
 * Splits a query string into its statements the way psql does: semicolons outside quotes
 * ('…', E'…', "…", $tag$…$tag$), comments (--, nested block comments) and SQL-standard function bodies
 * (BEGIN ATOMIC … END). Used to give each DDL command of a multi-statement query its own text.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  let depth = 0; // BEGIN ATOMIC / CASE nesting inside a statement
  const n = sql.length;
  const word = (at: number): string => /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(at, at + 64))?.[0] ?? '';
  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        const pair = sql.slice(i, i + 2);
        if (pair === '/*' || pair === '*/') {
          level += pair === '/*' ? 1 : -1;
          i += 2;
        } else i++;
      }
    } else if (c === "'") {
      const backslash = i > 0 && /[eE]/.test(sql[i - 1]) && !/[A-Za-z0-9_]/.test(sql[i - 2] ?? '');
      i++;
      while (i < n) {
        if (backslash && sql[i] === '\\') i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
    } else if (c === '"') {
      i++;
      while (i < n && !(sql[i] === '"' && sql[i + 1] !== '"')) i += sql[i] === '"' ? 2 : 1;
      i++;
    } else if (c === '$' && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? '')) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 70));
      if (m) {
        const end = sql.indexOf(m[0], i + m[0].length);
        i = end < 0 ? n : end + m[0].length;
      } else i++;
    } else if (/[A-Za-z_]/.test(c) && !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? '')) {
      const w = word(i).toUpperCase();
      if (w === 'BEGIN' && /^\s+atomic\b/i.test(sql.slice(i + 5, i + 20))) depth++;
      else if (w === 'CASE' && depth > 0) depth++;
      else if (w === 'END' && depth > 0) depth--;
      i += w.length || 1;
    } else if (c === ';' && depth === 0) {
      push(out, sql.slice(start, i));
      start = i + 1;
      i++;
    } else i++;
  }
  push(out, sql.slice(start));
  return out;
}

function push(out: string[], stmt: string): void {
  if (stripComments(stmt).trim()) out.push(stmt.trim());
}

/** The statement without leading comments and whitespace. */
function stripComments(stmt: string): string {
  let s = stmt;
  for (;;) {
    const t = s.replace(/^\s+/, '');
    if (t.startsWith('--')) s = t.slice(t.indexOf('\n') < 0 ? t.length : t.indexOf('\n') + 1);
    else if (t.startsWith('/*')) s = t.slice(t.indexOf('*/') < 0 ? t.length : t.indexOf('*/') + 2);
    else return t;
  }
}

/** The first keyword of a statement, upper case (`CREATE`, `INSERT`, …). */
export function firstWord(stmt: string): string {
  return (/^[A-Za-z]+/.exec(stripComments(stmt))?.[0] ?? '').toUpperCase();
}

/**
 * Whether a statement fires the event trigger: DDL on objects of the database (not roles,
 * databases, tablespaces or role memberships, which are cluster-wide; not temporary tables).
 */
export function firesEventTrigger(stmt: string): boolean {
  const s = stripComments(stmt).replace(/\s+/g, ' ').toUpperCase();
  const first = firstWord(s);
  if (!['CREATE', 'ALTER', 'DROP', 'COMMENT', 'GRANT', 'REVOKE', 'SECURITY', 'IMPORT', 'REFRESH'].includes(first)) return false;
  if (/^(CREATE|ALTER|DROP) (ROLE|USER|GROUP|DATABASE|TABLESPACE|SYSTEM)\b/.test(s)) return false;
  if (/^CREATE (GLOBAL |LOCAL )?(TEMP|TEMPORARY) /.test(s)) return false;
  if ((first === 'GRANT' || first === 'REVOKE') && !/\bON\b/.test(s)) return false;
  return true;
}
