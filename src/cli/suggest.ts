/** The closest known name within two edits ("lst" → "list"), or undefined. */
export function closestName(input: string, names: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(input, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** Levenshtein distance, one row at a time. */
function editDistance(source: string, target: string): number {
  let prev = Array.from({ length: target.length + 1 }, (_, j) => j);
  for (let i = 1; i <= source.length; i++) {
    const row = [i];
    for (let j = 1; j <= target.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (source[i - 1] === target[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[target.length];
}
