#!/usr/bin/env node
// Bundles the action's entry points into dist/ (committed; CI rebuilds and diffs it).
// Deterministic: same sources and dependencies give the same bytes (no timestamps, no hashes).
import { build } from 'esbuild';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist');

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/action/main.ts', post: 'src/action/post.ts' },
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  minify: true,
  // Each entry self-contained: no shared chunk files whose names would churn.
  splitting: false,
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
  // CommonJS dependencies (undici, tunnel) call require(); give the ESM bundle one.
  banner: { js: "import{createRequire as __vcr}from'node:module';const require=__vcr(import.meta.url);" },
});
// The bundle is ESM wherever the action is checked out, whatever package.json says above it.
await writeFile(join(outdir, 'package.json'), '{\n  "type": "module"\n}\n');
