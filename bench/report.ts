/**
 * How every bench prints: one `name value unit` line per figure, aligned so that two runs can be
 * compared line by line (or with diff); `# ` lines are notes, not figures.
 */
export function print(name: string, value: number, unit: string): void {
  process.stdout.write(`${name.padEnd(60)} ${value.toFixed(value < 10 ? 2 : 0).padStart(10)} ${unit}\n`);
}

export function note(text: string): void {
  process.stdout.write(`# ${text}\n`);
}

/** A bench's count argument (`bench/x.ts [count]`): `fallback` when absent, else a whole number 1..max. */
export function countArg(name: string, arg: string | undefined, fallback: number, max: number): number {
  if (arg === undefined) return fallback;
  const n = Number(arg);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name}: a whole number from 1 to ${max}, not "${arg}"`);
  return n;
}
