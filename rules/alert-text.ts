import type { Severity } from '../contract/alert.ts';
import { METRICS } from '../contract/metrics.ts';
import type { Station } from '../platform/stations.ts';
import type { LevelTransition, Trend } from './level.ts';
import type { LevelRule, TemplateVar } from './schema.ts';

/**
 * The words of an alert, in Vietnamese and English. Rules may override any template per level
 * (schema.ts `headline`/`description`/`instruction`); these defaults follow the wording of the Huế
 * flood bulletins ("Báo động 1/2/3", Decision 05/2020/QĐ-TTg).
 */

type Lang = 'vi' | 'en';
type Texts = Record<Lang, string>;
export interface AlertTexts {
  headline: Texts;
  description: Texts;
  instruction: Texts;
}

/**
 * CAP 1.2 §3.2.2 severity by alarm level, unless the rule says otherwise: level 1 is a warning to
 * prepare (Moderate), level 2 threatens property and roads (Severe), level 3 threatens life (Extreme).
 */
export function defaultSeverity(level: number): Severity {
  return level <= 1 ? 'Moderate' : level === 2 ? 'Severe' : 'Extreme';
}

const TREND: Record<Trend, Texts> = {
  rising: { vi: 'đang lên', en: 'rising' },
  falling: { vi: 'đang xuống', en: 'falling' },
  steady: { vi: 'ít biến đổi', en: 'steady' },
};

const DEFAULTS: Record<'active' | 'resolved', AlertTexts> = {
  active: {
    headline: {
      vi: '{event} trên {levelName} tại trạm {station} (sông {river}): {value} {unit}',
      en: '{event} above {levelName} at {station} ({river} River): {value} {unit}',
    },
    description: {
      vi: 'Lúc {time}, {metric} tại trạm {station} trên sông {river} là {value} {unit} và {trend}, trên mức {levelName} ({threshold} {unit}).',
      en: 'At {time}, the {metric} at {station} on the {river} River was {value} {unit} and {trend}, above {levelName} ({threshold} {unit}).',
    },
    instruction: { vi: '', en: '' }, // per level, below
  },
  resolved: {
    headline: {
      vi: '{event}: hết báo động tại trạm {station} (sông {river}): {value} {unit}',
      en: '{event} alarm ended at {station} ({river} River): {value} {unit}',
    },
    description: {
      vi: 'Lúc {time}, {metric} tại trạm {station} trên sông {river} là {value} {unit} và {trend}, dưới mức báo động 1 ({threshold} {unit}).',
      en: 'At {time}, the {metric} at {station} on the {river} River was {value} {unit} and {trend}, below alarm level 1 ({threshold} {unit}).',
    },
    instruction: {
      vi: 'Tiếp tục theo dõi thông tin của chính quyền địa phương; cẩn thận khi trở về vùng vừa ngập.',
      en: 'Keep following local authority announcements; take care when returning to areas that were flooded.',
    },
  },
};

/** Default actions by alarm level; 112 is Vietnam's search-and-rescue number. */
const INSTRUCTION: Record<1 | 2 | 3, Texts> = {
  1: {
    vi: 'Theo dõi bản tin lũ; chuẩn bị kê cao đồ đạc và đưa tài sản khỏi vùng trũng.',
    en: 'Follow the flood bulletins; get ready to raise belongings and move property out of low-lying areas.',
  },
  2: {
    vi: 'Không đi qua ngầm, tràn và nơi nước chảy xiết; sẵn sàng sơ tán khi có lệnh.',
    en: 'Do not cross fords, spillways or fast-flowing water; be ready to evacuate when ordered.',
  },
  3: {
    vi: 'Sơ tán ngay khỏi vùng trũng và ven sông theo hướng dẫn của chính quyền địa phương; gọi 112 khi cần cứu nạn.',
    en: 'Evacuate low-lying and riverside areas now as local authorities direct; call 112 for rescue.',
  },
};

export function levelName(level: number, lang: Lang): string {
  return lang === 'vi' ? `Báo động ${level}` : `alarm level ${level}`;
}

/** Local time as the console shows it (Asia/Ho_Chi_Minh); the wire stays UTC. */
function localTime(ts: number, lang: Lang): string {
  const text = new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', {
    timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit', year: 'numeric', hour12: false,
  }).format(ts);
  return `${text} (${lang === 'vi' ? 'giờ Việt Nam' : 'Vietnam time'})`;
}

function fill(template: string, vars: Record<TemplateVar, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(vars, name) ? vars[name as TemplateVar] : whole));
}

export function alertTexts(rule: LevelRule, station: Station, t: LevelTransition): AlertTexts {
  const meta = METRICS[rule.metric];
  const spec = rule.levels.find((l) => l.level === t.to);
  const resolved = t.to === 0;
  const base = DEFAULTS[resolved ? 'resolved' : 'active'];
  const digits = meta.unit === 'm' ? 2 : 1; // levels are read to the centimetre
  // Vietnamese writes a decimal comma (3,15 m), as the bulletins do.
  const num = (x: number, lang: Lang) => x.toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false });
  const out: AlertTexts = { headline: { vi: '', en: '' }, description: { vi: '', en: '' }, instruction: { vi: '', en: '' } };
  for (const lang of ['vi', 'en'] as const) {
    const vars: Record<TemplateVar, string> = {
      station: station.name,
      river: station.river ?? '',
      area: station.areaName,
      metric: meta[lang],
      event: rule.event[lang],
      value: num(t.value, lang),
      unit: meta.unit,
      threshold: num(t.threshold, lang),
      level: String(t.to),
      levelName: levelName(t.to, lang),
      trend: TREND[t.trend][lang],
      time: localTime(t.ts, lang),
    };
    const instruction = resolved ? base.instruction[lang] : INSTRUCTION[Math.min(3, Math.max(1, t.to)) as 1 | 2 | 3][lang];
    out.headline[lang] = fill(spec?.headline?.[lang] ?? base.headline[lang], vars);
    out.description[lang] = fill(spec?.description?.[lang] ?? base.description[lang], vars);
    out.instruction[lang] = fill(spec?.instruction?.[lang] ?? instruction, vars);
  }
  return out;
}
