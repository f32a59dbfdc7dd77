import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { processRunner } from '../../src/agent/runner.ts';
import { progress } from './progress.ts';

export interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: { x: number; y: number }[];
}

export interface Chart {
  title: string;
  subtitle: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Horizontal lines (the limits). */
  limits: { y: number; label: string; color: string }[];
}

const W = 900;
const H = 500;
const M = { left: 70, right: 170, top: 78, bottom: 55 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round step for about `n` ticks over [0, max]. */
function tickStep(max: number, n: number): number {
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
}

/** A line chart as SVG text: no library, fonts left to the renderer. */
export function lineChartSvg(c: Chart): string {
  const all = c.series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((p) => p.x));
  const yMax = Math.max(1, ...all.map((p) => p.y), ...c.limits.map((l) => l.y)) * 1.1;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + (x / xMax) * pw;
  const sy = (y: number) => M.top + ph - (y / yMax) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="24" font-size="17" font-weight="bold">${esc(c.title)}</text>`,
    ...c.subtitle.split('\n').map((line, i) => `<text x="${M.left}" y="${44 + i * 17}" fill="#555">${esc(line)}</text>`),
  ];
  const ys = tickStep(yMax, 6);
  for (let y = 0; y <= yMax; y += ys) {
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 8}" y="${sy(y) + 4}" text-anchor="end">${y}</text>`);
  }
  const xs = tickStep(xMax, 8);
  for (let x = 0; x <= xMax; x += xs) {
    out.push(`<line x1="${sx(x)}" x2="${sx(x)}" y1="${M.top + ph}" y2="${M.top + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${sx(x)}" y="${M.top + ph + 20}" text-anchor="middle">${x}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  for (const l of c.limits) {
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(l.y)}" y2="${sy(l.y)}" stroke="${l.color}" stroke-dasharray="2 4"/>`);
    out.push(`<text x="${M.left + 6}" y="${sy(l.y) - 5}" fill="${l.color}" font-size="12">${esc(l.label)}</text>`);
  }
  c.series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="7 4"' : '';
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.2"${dash}/>`);
    for (const p of s.points) out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.2" fill="${s.color}"/>`);
    const ly = M.top + 14 + i * 22;
    const lx = M.left + pw + 16;
    out.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2.2"${dash}/>`);
    out.push(`<text x="${lx + 32}" y="${ly}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** rsvg-convert (librsvg2-bin) turns the SVG into a PNG; installed with apt-get when missing (root). */
async function ensureRsvg(): Promise<string | null> {
  const bin = '/usr/bin/rsvg-convert';
  if (existsSync(bin)) return bin;
  progress('installing librsvg2-bin (rsvg-convert) to draw the plot');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => processRunner(['apt-get', 'install', '-y', '-q', 'librsvg2-bin'], { env, allowFailure: true });
  if ((await install()).code !== 0) {
    // A fresh machine may have no package lists yet.
    await processRunner(['apt-get', 'update', '-q'], { env, allowFailure: true });
    await install();
  }
  return existsSync(bin) ? bin : null;
}

/** Writes the SVG and, when rsvg-convert is there (or installable), the PNG. Returns the files written. */
export async function writeChart(c: Chart, svg: string, png: string): Promise<string[]> {
  await writeFile(svg, lineChartSvg(c));
  const rsvg = await ensureRsvg();
  if (!rsvg) {
    progress(`no rsvg-convert: wrote ${svg} only (apt-get install librsvg2-bin for the PNG)`);
    return [svg];
  }
  await processRunner([rsvg, '--format', 'png', '--output', png, svg]);
  return [svg, png];
}
