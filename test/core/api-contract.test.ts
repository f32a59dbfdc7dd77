import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { routes } from '../../src/core/api/routes.ts';
import type { RouteSpec } from '../../src/core/api/routes.ts';
import { openApiDocument } from '../../src/core/api/openapi.ts';

const run = promisify(execFile);

type Op = {
  operationId?: string;
  tags?: string[];
  security?: { bearer?: string[] }[];
  parameters?: { name: string; in: string }[];
  responses: Record<string, { $ref?: string }>;
};
const doc = openApiDocument('test') as unknown as { paths: Record<string, Record<string, Op>>; tags: { name: string }[] };
const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

describe('the API route table and /openapi.json', () => {
  it('every route of the table is one operation of the document, under its operationId', () => {
    const ids = operations.map((o) => o.op.operationId);
    expect(ids.sort()).toEqual(Object.keys(routes).sort());
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.length).toBeGreaterThanOrEqual(17);
  });

  it('every operation has a declared tag, a 2xx answer, the shared error body, and bearer security except /healthz', () => {
    const tags = new Set(doc.tags.map((t) => t.name));
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.tags?.length, where).toBe(1);
      expect(tags.has(op.tags![0]), where).toBe(true);
      expect(
        Object.keys(op.responses).some((s) => s.startsWith('2')),
        where,
      ).toBe(true);
      const errors = Object.entries(op.responses).filter(([s]) => Number(s) >= 400);
      expect(errors.length, where).toBeGreaterThan(0);
      for (const [status, res] of errors) expect(res.$ref, `${where} ${status}`).toBe(`#/components/responses/E${status}`);
      if (path === '/healthz') expect(op.security, where).toEqual([]);
      else {
        expect(op.security, where).toEqual([{ bearer: [] }]);
        expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(['401', '403', '429', '500']));
      }
    }
  });

  it('path parameters in the document are the ones the table validates, and routes with input document a 400', () => {
    for (const [id, r] of Object.entries(routes) as [string, RouteSpec][]) {
      const inPath = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(Object.keys(r.params?.shape ?? {}), id).toEqual(inPath);
      const op = doc.paths[r.path][r.method.toLowerCase()];
      expect(
        (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        id,
      ).toEqual(inPath);
      if (r.params || r.query || r.body) expect(op.responses['400'], id).toBeDefined();
    }
  });

  it('the request body of POST /v1/init is the one schema the route validates: sourceUrl for imports, seeds for empty', () => {
    const body = routes.initMain.body;
    expect(body.safeParse({ mode: 'logical', sourceUrl: 'postgresql://u:p@h:5432/db', jobs: 4 }).success).toBe(true);
    expect(body.safeParse({ mode: 'empty', seeds: [{ name: 'a.sql', sql: 'select 1' }] }).success).toBe(true);
    const missing = body.safeParse({ mode: 'physical' });
    expect(missing.error?.issues[0]?.message).toMatch(/mode physical needs sourceUrl/);
    expect(body.safeParse({ mode: 'logical', url: 'postgresql://u:p@h/db' }).success).toBe(false);
    expect(body.safeParse({ mode: 'empty', sourceUrl: 'postgresql://u:p@h/db' }).success).toBe(false);
  });

  it('redocly lint (recommended rules) passes on the generated document: 0 errors', async () => {
    const r = await run('node', ['scripts/openapi-lint.mjs'], { env: { ...process.env, NO_COLOR: '1' } });
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/openapi\.json: \d+ operations/);
    expect(out).toMatch(/Your API description is valid/);
    expect(out).not.toMatch(/\d+ errors?\b/);
  });
});
