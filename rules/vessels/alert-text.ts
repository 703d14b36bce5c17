import type { Severity } from '../../contract/alert.ts';
import type { VesselEntry } from '../../ingest/vessels/registry.ts';
import type { VesselTransition } from './geofence.ts';

/** Vietnamese and English texts of the vessel alerts (CAP headline/description/instruction). */
type L = { vi: string; en: string };
export interface VesselTexts {
  event: L;
  headline: L;
  description: L;
  instruction: L;
  areaName: L;
  severity: Severity;
  /** the class the alert is in, in its own words (the console's label): never "BĐ", a river's alarm level */
  levelName: L;
}

const pos = (t: VesselTransition) => (t.lat !== undefined && t.lon !== undefined ? `${t.lat.toFixed(4)}, ${t.lon.toFixed(4)}` : '');

export function vesselAlertTexts(t: VesselTransition, v: VesselEntry | undefined): VesselTexts {
  const who = v ? `${v.id} (${v.name})` : (t.vesselId ?? '');
  const ended = t.level === 0;
  const where = t.whereName ?? t.where ?? '';
  const seaName = { vi: 'Vùng biển Thừa Thiên Huế', en: 'Thừa Thiên Huế sea area' };
  switch (t.kind) {
    case 'boundary':
      return {
        event: { vi: 'Tàu vượt ranh giới vùng biển được phép (IUU)', en: 'Vessel crossed the permitted sea boundary (IUU)' },
        headline: ended
          ? { vi: `Tàu ${who} đã trở lại vùng biển được phép`, en: `Vessel ${who} is back inside the permitted sea` }
          : { vi: `Tàu ${who} vượt ranh giới vùng biển được phép`, en: `Vessel ${who} crossed the permitted sea boundary` },
        description: { vi: `Vị trí ${pos(t)}, cách ranh giới ${t.value.toFixed(1)} hải lý.`, en: `Position ${pos(t)}, ${t.value.toFixed(1)} nm beyond the boundary.` },
        instruction: { vi: 'Liên lạc với tàu, yêu cầu quay lại vùng biển Việt Nam; báo Chi cục Thủy sản.', en: 'Contact the vessel and order it back; notify the fisheries sub-department.' },
        areaName: seaName,
        severity: 'Severe',
        levelName: { vi: 'Vượt ranh giới vùng biển', en: 'Sea boundary crossed' },
      };
    case 'zone':
      return {
        event: { vi: 'Tàu khai thác sai vùng', en: 'Vessel fishing in a zone it may not use' },
        headline: ended
          ? { vi: `Tàu ${who} đã rời ${where}`, en: `Vessel ${who} left ${where}` }
          : { vi: `Tàu ${who} (${t.value} m) khai thác trong ${where}`, en: `Vessel ${who} (${t.value} m) fishing in ${where}` },
        description: { vi: `Vị trí ${pos(t)}. Tàu dài ${t.value} m không được khai thác trong vùng này.`, en: `Position ${pos(t)}. A ${t.value} m vessel may not fish in this zone.` },
        instruction: { vi: 'Yêu cầu tàu di chuyển về vùng được cấp phép.', en: 'Order the vessel to its licensed zone.' },
        areaName: { vi: where, en: where },
        severity: 'Moderate',
        levelName: { vi: 'Sai vùng khai thác', en: 'Wrong fishing zone' },
      };
    case 'protected-area':
      return {
        event: { vi: 'Tàu vào khu bảo tồn biển', en: 'Vessel inside a marine protected area' },
        headline: ended
          ? { vi: `Tàu ${who} đã rời ${where}`, en: `Vessel ${who} left ${where}` }
          : { vi: `Tàu ${who} đi vào ${where}`, en: `Vessel ${who} entered ${where}` },
        description: { vi: `Vị trí ${pos(t)}.`, en: `Position ${pos(t)}.` },
        instruction: { vi: 'Yêu cầu tàu rời khu bảo tồn ngay.', en: 'Order the vessel out of the protected area.' },
        areaName: { vi: where, en: where },
        severity: 'Moderate',
        levelName: { vi: 'Trong khu bảo tồn', en: 'Inside a protected area' },
      };
    case 'signal-loss':
      return {
        event: { vi: 'Tàu mất tín hiệu giám sát hành trình', en: 'Vessel monitoring signal lost' },
        headline: ended
          ? { vi: `Tàu ${who} đã có tín hiệu trở lại`, en: `Vessel ${who} is reporting again` }
          : t.level >= 2
            ? { vi: `Tàu ${who} mất tín hiệu quá 10 ngày: phải về bờ`, en: `Vessel ${who} silent for over 10 days: must return to port` }
            : { vi: `Tàu ${who} mất tín hiệu quá 6 giờ trên biển`, en: `Vessel ${who} silent for over 6 hours at sea` },
        description: { vi: `Vị trí cuối ${pos(t)}, ${t.value.toFixed(1)} giờ trước.`, en: `Last position ${pos(t)}, ${t.value.toFixed(1)} h ago.` },
        instruction: t.level >= 2
          ? { vi: 'Yêu cầu tàu về cảng để sửa thiết bị giám sát hành trình.', en: 'Order the vessel to port to repair its tracker.' }
          : { vi: 'Chủ tàu báo vị trí 6 giờ một lần bằng phương tiện khác.', en: 'The owner must report the position every 6 h by other means.' },
        areaName: seaName,
        severity: t.level >= 2 ? 'Severe' : 'Moderate',
        levelName: t.level >= 2 ? { vi: 'Mất tín hiệu quá 10 ngày', en: 'Silent over 10 days' } : { vi: 'Mất tín hiệu quá 6 giờ', en: 'Silent over 6 hours' },
      };
    case 'storm-area': {
      const list = (t.vessels ?? []).join(', ');
      return {
        event: { vi: 'Tàu trong vùng nguy hiểm do bão', en: 'Vessels in a storm danger area' },
        headline: ended
          ? { vi: `Không còn tàu trong ${where}`, en: `No vessels left in ${where}` }
          : { vi: `${t.value} tàu trong ${where}`, en: `${t.value} vessel(s) in ${where}` },
        description: { vi: `Tàu trong vùng: ${list || 'không'}.`, en: `Vessels inside: ${list || 'none'}.` },
        instruction: { vi: 'Kêu gọi tàu thoát khỏi vùng nguy hiểm, về nơi tránh trú.', en: 'Call the vessels out of the danger area to shelter.' },
        areaName: { vi: where, en: where },
        severity: 'Extreme',
        levelName: { vi: 'Vùng nguy hiểm do bão', en: 'Storm danger area' },
      };
    }
  }
}
