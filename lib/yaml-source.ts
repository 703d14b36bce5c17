import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';

/**
 * What the configuration files people edit by hand (the rule file, the Modbus register map) share:
 * YAML parsed with positions kept, so each problem is reported as `file:line:col path: message`,
 * every one at once, and the file is fixed in one pass.
 */

export interface SourceProblem {
  file: string;
  line: number;
  col: number;
  /** `rules[2].levels[1].value`; empty for the whole document or a YAML syntax error */
  path: string;
  message: string;
}

/** The message of a file's error: a headline, then one line per problem. */
export function describeProblems(what: string, file: string, problems: readonly SourceProblem[]): string {
  const lines = problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.path ? p.path + ': ' : ''}${p.message}`);
  return `invalid ${what} ${file} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** The text of `file`, or the one problem saying why it cannot be read. */
export function readSource(file: string): { text: string } | { problem: SourceProblem } {
  try {
    return { text: readFileSync(file, 'utf8') };
  } catch (err) {
    return { problem: { file, line: 1, col: 1, path: '', message: `cannot read: ${(err as Error).message}` } };
  }
}

export interface YamlSource {
  /** YAML syntax errors: when there are any, nothing else is worth checking */
  syntaxErrors: SourceProblem[];
  /** the document as plain data */
  data: unknown;
  /** problems reported so far */
  problems: SourceProblem[];
  /** a problem at `path` (with `key`: at that key of the map at `path`, e.g. an unknown key) */
  report(path: PropertyKey[], message: string, key?: string): void;
  /** a zod issue, worded for people who edit the file */
  reportIssue(issue: z.core.$ZodIssue): void;
  /** the problems in file order */
  sorted(): SourceProblem[];
}

/** `file` only names the source in messages. */
export function parseYamlSource(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const at = (offset: number, path: string, message: string): SourceProblem => ({ file, ...lineCounter.linePos(offset), path, message });
  const problems: SourceProblem[] = [];
  const report = (path: PropertyKey[], message: string, key?: string) => {
    const full = key === undefined ? path : [...path, key];
    problems.push(at(locate(doc, full, key !== undefined), formatPath(full), message));
  };
  return {
    // yaml's own message carries "at line X, column Y:" and a code frame; keep its first clause.
    syntaxErrors: doc.errors.map((e) => at(e.pos[0], '', `YAML ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`)),
    data: doc.errors.length > 0 ? undefined : doc.toJS(),
    problems,
    report,
    reportIssue(issue) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) report(issue.path, 'unknown key', key);
        return;
      }
      let message = issue.message.replace(/^Invalid input: /, '');
      if (issue.code === 'invalid_type' && /received undefined$/.test(message)) message = `required (${message.replace(/, received undefined$/, '')})`;
      report(issue.path, message);
    },
    sorted: () => problems.sort((a, b) => a.line - b.line || a.col - b.col),
  };
}

/** Offset of the node at `path`, or of the deepest node that exists on the way (a missing key). */
function locate(doc: Document, path: PropertyKey[], wantKey: boolean): number {
  let node: Node | null = doc.contents;
  let offset = node?.range?.[0] ?? 0;
  for (let i = 0; i < path.length && node; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node | null;
      // Point at the key for unknown keys and empty values, at the value otherwise.
      if (i === path.length - 1 && wantKey) return keyNode?.range?.[0] ?? offset;
      node = (pair.value as Node | null) ?? null;
      offset = node?.range?.[0] ?? keyNode?.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = (node.items[seg] as Node | undefined) ?? null;
      offset = node?.range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

export function formatPath(path: PropertyKey[]): string {
  return path.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : `${i === 0 ? '' : '.'}${String(seg)}`)).join('');
}

/** What a loader returns is read by many; freezing it keeps any of them from changing it for the others. */
export function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}
