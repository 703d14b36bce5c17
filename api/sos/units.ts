import { z } from 'zod';
import { describeProblems, parseYamlSource, readSource, type SourceProblem } from '../../lib/yaml-source.ts';
import { ErrorCode } from '../../contract/errors.ts';

/** The rescue units SOS calls are assigned to (config/rescue-units.yaml; RESCUE_UNITS_FILE). */
const unit = z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/), name: z.string().min(1), district: z.string().min(1) }).strict();
const unitsFile = z.object({ units: z.array(unit).min(1) }).strict();
export type RescueUnit = z.infer<typeof unit>;

export const DEFAULT_RESCUE_UNITS_FILE = new URL('../../config/rescue-units.yaml', import.meta.url).pathname;

export class RescueUnitsError extends Error {
  readonly code = ErrorCode.CONFIG_INVALID;
  constructor(file: string, readonly problems: readonly SourceProblem[]) {
    super(describeProblems('rescue units file', file, problems));
    this.name = 'RescueUnitsError';
  }
}

export function loadRescueUnits(file: string = DEFAULT_RESCUE_UNITS_FILE): RescueUnit[] {
  const source = readSource(file);
  if ('problem' in source) throw new RescueUnitsError(file, [source.problem]);
  const src = parseYamlSource(source.text, file);
  if (src.syntaxErrors.length > 0) throw new RescueUnitsError(file, src.syntaxErrors);
  const parsed = unitsFile.safeParse(src.data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) src.reportIssue(issue);
    throw new RescueUnitsError(file, src.sorted());
  }
  const seen = new Set<string>();
  parsed.data.units.forEach((u, i) => {
    if (seen.has(u.id)) src.report(['units', i, 'id'], `duplicate unit id "${u.id}"`);
    seen.add(u.id);
  });
  if (src.problems.length > 0) throw new RescueUnitsError(file, src.sorted());
  return parsed.data.units;
}

/** The units that serve a district: its own first, then the province's. */
export function unitsFor(units: readonly RescueUnit[], district: string | null): RescueUnit[] {
  return [...units.filter((u) => u.district === district), ...units.filter((u) => u.district === 'all')];
}
