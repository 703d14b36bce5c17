import type { Rule } from './schema.ts';

/**
 * Built-in words of each rule kind, in Vietnamese and English; rules override any of them
 * (`headline`/`description`/`instruction`, per rule or per level). Placeholders: schema.ts
 * TEMPLATE_VARS. The flood wording follows the Huế bulletins ("Báo động 1/2/3", Decision 05/2020/QĐ-TTg).
 */
export type Lang = 'vi' | 'en';
export type Texts = Record<Lang, string>;
export interface AlertTexts {
  headline: Texts;
  description: Texts;
  instruction: Texts;
}

type Kind = Rule['kind'];
const T = (vi: string, en: string): Texts => ({ vi, en });

export const ACTIVE: Record<Exclude<Kind, 'release'>, Omit<AlertTexts, 'instruction'> & { instruction?: Texts }> = {
  level: {
    headline: T('{event} trên {levelName} tại trạm {station} (sông {river}): {value} {unit}', '{event} above {levelName} at {station} ({river} River): {value} {unit}'),
    description: T(
      'Lúc {time}, {metric} tại trạm {station} trên sông {river} là {value} {unit} và {trend}, trên mức {levelName} ({threshold} {unit}).',
      'At {time}, the {metric} at {station} on the {river} River was {value} {unit} and {trend}, above {levelName} ({threshold} {unit}).',
    ),
  },
  rate: {
    headline: T('{event}: nước lên {value} {unit} trong {window} tại trạm {station}', '{event}: water up {value} {unit} in {window} at {station}'),
    description: T(
      'Lúc {time}, {metric} tại trạm {station} đã lên {value} {unit} trong {window} (ngưỡng {threshold} {unit}), trước cả khi tới mức báo động.',
      'At {time}, the {metric} at {station} had risen {value} {unit} within {window} (threshold {threshold} {unit}), ahead of any alarm level.',
    ),
    instruction: T('Theo dõi bản tin lũ; tránh xa lòng sông, ngầm, tràn; chuẩn bị sơ tán nếu ở vùng trũng.', 'Follow flood bulletins; keep away from the river bed, fords and spillways; be ready to evacuate low-lying areas.'),
  },
  accumulation: {
    headline: T('{levelName}: {value} mm trong {window} tại {station}', '{levelName}: {value} mm in {window} at {station}'),
    description: T(
      'Lúc {time}, lượng mưa {window} qua tại trạm {station} là {value} mm (ngưỡng {threshold} mm).',
      'At {time}, the rainfall over the last {window} at {station} was {value} mm (threshold {threshold} mm).',
    ),
    instruction: T('Đề phòng lũ quét, sạt lở đất ở vùng núi và ngập úng ở vùng trũng; không đi qua ngầm, tràn.', 'Beware of flash floods and landslides in the hills and flooding in low areas; do not cross fords or spillways.'),
  },
  rainfall: {
    headline: T('{levelName}: {value} mm trong {window} tại {station}', '{levelName}: {value} mm in {window} at {station}'),
    description: T(
      'Lúc {time}, lượng mưa {window} qua tại trạm {station} là {value} mm, mức {levelName} (ngưỡng {threshold} mm). Lượng mưa theo từng khoảng thời gian: {windows}.',
      'At {time}, the rainfall over the last {window} at {station} was {value} mm: {levelName} (threshold {threshold} mm). Rainfall by window: {windows}.',
    ),
    instruction: T('Đề phòng lũ quét, sạt lở đất ở vùng núi và ngập úng ở vùng trũng; không đi qua ngầm, tràn.', 'Beware of flash floods and landslides in the hills and flooding in low areas; do not cross fords or spillways.'),
  },
  aqi: {
    headline: T('Chất lượng không khí {category} tại {station}: VN_AQI {value}', 'Air quality {category} at {station}: VN_AQI {value}'),
    description: T(
      'Lúc {time}, chỉ số VN_AQI giờ (Quyết định 1459/QĐ-TCMT) tại {station} là {value}, mức {category}.',
      'At {time}, the hourly VN_AQI (Decision 1459/QĐ-TCMT) at {station} was {value}: {category}.',
    ),
    instruction: T('Hạn chế ra ngoài và vận động mạnh ngoài trời; người già, trẻ em và người có bệnh hô hấp ở trong nhà.', 'Limit time and exertion outdoors; older people, children and people with respiratory illness should stay indoors.'),
  },
  staleness: {
    headline: T('Trạm {station} mất tín hiệu', 'Station {station} offline'),
    description: T('Không nhận được số liệu của trạm {station} từ {time} ({value} phút, quá {threshold} phút).', 'No data from {station} since {time} ({value} min, more than {threshold} min).'),
    instruction: T('Kiểm tra nguồn điện, đường truyền và thiết bị của trạm.', 'Check the station power, link and device.'),
  },
  'sensor-fault': {
    headline: T('Cảm biến {metric} tại trạm {station} báo giá trị bất thường: {value} {unit}', 'Sensor fault: {metric} at {station} reads {value} {unit}'),
    description: T(
      'Lúc {time}, cảm biến {metric} tại trạm {station} báo {value} {unit}, ngoài dải vật lý; giá trị được lưu nhưng không dùng để cảnh báo.',
      'At {time}, the {metric} sensor at {station} read {value} {unit}, outside its physical range; the value is kept but raises no hazard alert.',
    ),
    instruction: T('Kiểm tra và hiệu chỉnh cảm biến.', 'Inspect and recalibrate the sensor.'),
  },
  'fire-danger': {
    headline: T('{event}: {levelName} tại {area}', '{event}: {levelName} in {area}'),
    description: T(
      'Lúc {time}, chỉ số khô hạn Nesterov (P) tại trạm {station} là {value}, {levelName} (từ {threshold}), theo Thông tư 25/2019/TT-BNNPTNT.',
      'At {time}, the Nesterov dryness index (P) at {station} was {value}: {levelName} (from {threshold}), on the national scale of Circular 25/2019/TT-BNNPTNT.',
    ),
    instruction: T(
      'Không đốt nương rẫy, không dùng lửa trong rừng và ven rừng; báo ngay cho kiểm lâm hoặc gọi 114 khi thấy cháy.',
      'Do not burn fields or use fire in or near the forest; report any fire to the forest rangers at once or call 114.',
    ),
  },
  composite: {
    headline: T('{event} tại {station}', '{event} at {station}'),
    description: T('Lúc {time}, các điều kiện của cảnh báo {event} tại {station} đều thỏa mãn.', 'At {time}, the conditions of {event} at {station} held.'),
    instruction: T('Theo dõi và làm theo hướng dẫn của chính quyền địa phương.', 'Follow local authority instructions.'),
  },
};

export const RESOLVED: AlertTexts = {
  headline: T('{event}: kết thúc tại {station}', '{event}: ended at {station}'),
  description: T('Lúc {time}, tình trạng {event} tại {station} đã chấm dứt ({value} {unit}).', 'At {time}, {event} at {station} ended ({value} {unit}).'),
  instruction: T('Tiếp tục theo dõi thông tin của chính quyền địa phương.', 'Keep following local authority announcements.'),
};

/** Flood levels keep the bulletin wording when they end. */
export const RESOLVED_LEVEL: AlertTexts = {
  headline: T('{event}: hết báo động tại trạm {station} (sông {river}): {value} {unit}', '{event} alarm ended at {station} ({river} River): {value} {unit}'),
  description: T(
    'Lúc {time}, {metric} tại trạm {station} trên sông {river} là {value} {unit} và {trend}, dưới mức báo động 1 ({threshold} {unit}).',
    'At {time}, the {metric} at {station} on the {river} River was {value} {unit} and {trend}, below alarm level 1 ({threshold} {unit}).',
  ),
  instruction: T(
    'Tiếp tục theo dõi thông tin của chính quyền địa phương; cẩn thận khi trở về vùng vừa ngập.',
    'Keep following local authority announcements; take care when returning to areas that were flooded.',
  ),
};

/** Default flood actions by alarm level; 112 is Vietnam's search-and-rescue number. */
export const FLOOD_INSTRUCTION: Record<1 | 2 | 3, Texts> = {
  1: T('Theo dõi bản tin lũ; chuẩn bị kê cao đồ đạc và đưa tài sản khỏi vùng trũng.', 'Follow the flood bulletins; get ready to raise belongings and move property out of low-lying areas.'),
  2: T('Không đi qua ngầm, tràn và nơi nước chảy xiết; sẵn sàng sơ tán khi có lệnh.', 'Do not cross fords, spillways or fast-flowing water; be ready to evacuate when ordered.'),
  3: T('Sơ tán ngay khỏi vùng trũng và ven sông theo hướng dẫn của chính quyền địa phương; gọi 112 khi cần cứu nạn.', 'Evacuate low-lying and riverside areas now as local authorities direct; call 112 for rescue.'),
};

export const TREND = { rising: T('đang lên', 'rising'), falling: T('đang xuống', 'falling'), steady: T('ít biến đổi', 'steady') } as const;

/** 3600000 → "1 giờ" / "1 h"; 5400000 → "90 phút" / "90 min". */
export function windowText(ms: number, lang: Lang): string {
  const h = ms / 3_600_000;
  if (Number.isInteger(h)) return lang === 'vi' ? `${h} giờ` : `${h} h`;
  return lang === 'vi' ? `${Math.round(ms / 60_000)} phút` : `${Math.round(ms / 60_000)} min`;
}
