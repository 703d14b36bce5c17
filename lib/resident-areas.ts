import type { Station } from '../contract/station.ts';

/**
 * The areas residents choose from (the residents' page, Web Push preferences): the districts of
 * the station catalogue, each once, by its official name, with the alert area codes of its
 * stations. A station the catalogue gives no district is an area of its own (its area code and name).
 */
export interface ResidentArea {
  /** e.g. `huyen-a-luoi`: the district's name without diacritics */
  code: string;
  /** official name, e.g. `Huyện A Lưới` */
  name: string;
  /** the alert area codes (contract/topics.ts) of the district's stations */
  codes: string[];
}

export const slugOf = (name: string) =>
  name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

export function residentAreas(stations: readonly Pick<Station, 'areaCode' | 'areaName' | 'district'>[]): ResidentArea[] {
  const byCode = new Map<string, ResidentArea>();
  for (const s of stations) {
    const [code, name] = s.district ? [slugOf(s.district), s.district] : [s.areaCode, s.areaName];
    const area = byCode.get(code) ?? { code, name, codes: [] };
    if (!area.codes.includes(s.areaCode)) area.codes.push(s.areaCode);
    byCode.set(code, area);
  }
  return [...byCode.values()].sort((a, b) => a.name.localeCompare(b.name, 'vi'));
}
