#!/usr/bin/env node
// Builds the agent's OpenAPI document from the route table (no server needed), writes it to a temp
// file and runs `redocly lint` on it with redocly.yaml (recommended rules). Exits non-zero on errors.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../src/core/api/openapi.ts';
import { VERSION } from '../src/core/version.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'vela-openapi-'));
const file = join(dir, 'openapi.json');
try {
  const doc = openApiDocument(VERSION);
  writeFileSync(file, JSON.stringify(doc, null, 2));
  const ops = Object.values(doc.paths).flatMap((p) => Object.keys(p)).length;
  console.log(`openapi.json: ${ops} operations → ${file}`);
  execFileSync('npx', ['--no-install', 'redocly', 'lint', '--config', join(root, 'redocly.yaml'), file], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
} catch (err) {
  process.exitCode = typeof err.status === 'number' && err.status > 0 ? err.status : 1;
  if (err.status === undefined) console.error(err);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
