/** Progress lines go to stderr so stdout carries only the result table. */
export function progress(msg: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t}] ${msg}\n`);
}
