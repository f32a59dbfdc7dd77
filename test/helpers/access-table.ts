import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The README's "Access" table: one row per request, one ✓/✗ per principal. */
export const PRINCIPALS = ['admin', 'ci', 'masked', 'reader', 'oidc'] as const;
export type PrincipalName = (typeof PRINCIPALS)[number];

export interface AccessRow {
  /** The row as written, for test names. */
  text: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** The branch a path names (or the new branch of a create). */
  branch: string | null;
  /** `POST /v1/branches`: the parent of the new branch. */
  parent: string | null;
  /** The row asks whether the answer carries credentials. */
  connection: boolean;
  /** `PATCH … protected`: the request changes protection. */
  protect: boolean;
  allowed: Record<PrincipalName, boolean>;
}

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

export function readAccessTable(text = readFileSync(README, 'utf8')): AccessRow[] {
  const m = /<!-- access-table -->\n([\s\S]*?)<!-- \/access-table -->/.exec(text);
  if (!m) throw new Error('README has no <!-- access-table --> block');
  const lines = m[1].split('\n').filter((l) => l.startsWith('|'));
  const header = lines[0]
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
  if (header.slice(1).join(',') !== PRINCIPALS.join(',')) throw new Error(`unexpected header ${header.join(',')}`);
  return lines.slice(2).map(parseRow);
}

function parseRow(line: string): AccessRow {
  const cells = line
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
  const text = cells[0];
  const req = /^`(GET|POST|PATCH|DELETE) ([^`]+)`(.*)$/.exec(text);
  if (!req) throw new Error(`cannot read access row ${text}`);
  const [, method, path, rest] = req;
  const allowed = {} as Record<PrincipalName, boolean>;
  PRINCIPALS.forEach((p, i) => {
    const cell = cells[i + 1];
    if (cell !== '✓' && cell !== '✗') throw new Error(`row ${text}: cell for ${p} is "${cell}", expected ✓ or ✗`);
    allowed[p] = cell === '✓';
  });
  const create = /^\s*([a-z0-9-]+) from ([a-z0-9-]+)\s*$/.exec(rest);
  const named = /^\/v1\/branches\/([a-z0-9-]+)/.exec(path);
  return {
    text,
    method: method as AccessRow['method'],
    path,
    branch: create ? create[1] : (named?.[1] ?? null),
    parent: create ? create[2] : null,
    connection: rest.includes('→ connection'),
    protect: /\bprotected\s*$/.test(rest),
    allowed,
  };
}
