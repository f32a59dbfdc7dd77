import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageDriver } from '../storage/driver.ts';
import type { Registry } from './registry.ts';
import { isQuarantineName, quarantinedFrom } from '../../core/names.ts';

/** What the agent set aside instead of acting on it; `GET /v1/doctor` and `vela-branch doctor` show it. */
export interface DoctorReport {
  ok: boolean;
  /** Registry records that could not be read, moved to state/quarantine/. */
  records: { branch: string; file: string; reason: string | null }[];
  /** Volumes of branches whose record is unreadable: kept where they are, untouched. */
  unclaimed: string[];
  /** Volumes no record claimed, renamed into quarantine (never deleted). */
  volumes: { volume: string; branch: string }[];
}

export async function doctorReport(parts: { registry: Registry; storage: StorageDriver }): Promise<DoctorReport> {
  const { registry, storage } = parts;
  const dir = registry.quarantineDir;
  const files = (await readdir(dir).catch(() => [] as string[])).sort();
  const reasons = new Map(registry.quarantined.map((q) => [q.movedTo, q.reason]));
  const records = files.map((f) => ({
    branch: f.replace(/\.json\..*$/, ''),
    file: join(dir, f),
    reason: reasons.get(join(dir, f)) ?? null,
  }));
  const unclaimed = (await storage.list()).filter((v) => !registry.has(v));
  const volumes = (await storage.listStaging()).filter(isQuarantineName).map((volume) => ({ volume, branch: quarantinedFrom(volume)! }));
  return { ok: records.length === 0 && unclaimed.length === 0 && volumes.length === 0, records, unclaimed, volumes };
}
