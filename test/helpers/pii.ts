import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceCluster } from './source-cluster.ts';

/** Masking SQL for the source cluster's PII: customers (source-cluster.ts) and patients (below). */
export const MASK_SQL = `UPDATE customers SET email = 'customer' || id || '@masked.invalid', full_name = 'Customer ' || id;
UPDATE patients SET email = 'patient' || id || '@masked.invalid', full_name = 'Patient ' || id, notes = repeat('x', 3000);`;

/**
 * Adds a `patients` table to the source: 500 unique emails and names, and notes long enough to be
 * stored out of line (STORAGE EXTERNAL: TOASTed uncompressed, so their bytes are greppable).
 * Returns every PII value of the source (customers and patients).
 */
export async function addPatients(src: SourceCluster): Promise<Set<string>> {
  await src.sql(`CREATE TABLE patients (id serial PRIMARY KEY, email text NOT NULL UNIQUE, full_name text NOT NULL, notes text);
    ALTER TABLE patients ALTER COLUMN notes SET STORAGE EXTERNAL;
    CREATE INDEX patients_name ON patients(full_name);
    INSERT INTO patients(email, full_name, notes)
      SELECT 'pii' || left(md5('e' || g), 16) || '@patients.example', 'Pii Name ' || left(md5('n' || g), 16),
             'PIINOTE' || left(md5('t' || g), 16) || ' ' || (SELECT string_agg(md5(g || '-' || i), '') FROM generate_series(1, 100) i)
      FROM generate_series(1, 500) g;
    ALTER TABLE patients OWNER TO app_owner;
    ANALYZE;`);
  const values = new Set<string>();
  for (const r of await src.sql('SELECT email, full_name FROM customers')) {
    values.add(r.email as string);
    values.add(r.full_name as string);
  }
  for (const r of await src.sql('SELECT email, full_name, left(notes, 23) AS token FROM patients')) {
    values.add(r.email as string);
    values.add(r.full_name as string);
    values.add(r.token as string);
  }
  return values;
}

// Every PII value above has one of these shapes; a match is a hit when it is one of the values.
const SHAPES = /pii[0-9a-f]{16}@patients\.example|Pii Name [0-9a-f]{16}|PIINOTE[0-9a-f]{16}|person\d+@real-mail\.example|Real Person \d+/g;

/** Reads every file under `dir` (bytes, as root) and returns which PII values occur, and where. */
export async function grepPii(dir: string, values: Set<string>): Promise<{ found: Set<string>; files: Set<string>; bytes: number }> {
  const found = new Set<string>();
  const files = new Set<string>();
  let bytes = 0;
  const walk = async (d: string): Promise<void> => {
    for (const name of await readdir(d)) {
      const path = join(d, name);
      const st = await lstat(path);
      if (st.isDirectory()) await walk(path);
      if (!st.isFile()) continue;
      const text = (await readFile(path)).toString('latin1');
      bytes += text.length;
      for (const m of text.matchAll(SHAPES)) {
        if (!values.has(m[0])) continue;
        found.add(m[0]);
        files.add(path.slice(dir.length + 1));
      }
    }
  };
  await walk(dir);
  return { found, files, bytes };
}
