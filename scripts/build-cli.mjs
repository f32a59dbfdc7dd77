#!/usr/bin/env node
// Bundles the CLI (agent, app and client commands) into build/cli.js for the published npm package:
// Node strips TypeScript types from a checkout but not from files under node_modules.
// Dependencies stay external (installed next to it by npm); run by `npm pack` / `npm publish` (prepack).
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// An output dir may be given (tests build into build/test-*); it must sit inside the repo so the
// bundle's external imports resolve from its node_modules.
const outdir = process.argv[2] ? join(process.cwd(), process.argv[2]) : join(root, 'build');
await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/index.ts' },
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  packages: 'external',
  legalComments: 'none',
  logLevel: 'warning',
});
