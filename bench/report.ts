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
