import { defineFlood } from './hydrograph.ts';

/**
 * Late October – early November 2025: the Hương and the Bồ above alarm level 3 three times —
 * 27 Oct, 29 Oct (the rivers rose again after a day's fall) and 3 Nov, when Phú Ốc passed its
 * record again. config/hue-stations.json's observed values are among the points.
 */
const NLD_2610 = 'https://nld.com.vn/nuoc-song-len-nhanh-trung-tam-tp-hue-nhieu-noi-bi-ngap-196251026211105581.htm';
const DANTRI_2710 = 'NCHMF 07h 27/10 via https://dantri.com.vn/thoi-su/lu-tran-vao-benh-vien-bac-si-cung-cong-an-bo-doi-khenh-benh-nhan-so-tan-20251027132206655.htm';
const VNP_0311 = 'Ban Chỉ huy Phòng thủ dân sự TP Huế via https://www.vietnamplus.vn/hue-muc-nuoc-song-bo-vuot-lich-su-hon-28000-ngoi-nha-bi-ngap-post1074594.vnp';
const VIETBAO_2910 = 'https://vietbao.vn/can-canh-duong-pho-hue-khi-nuoc-lu-bat-dau-rut-571085.html (04h 29/10)';
const PLO_2910 = 'UBND TP Huế 14h 29/10 via https://plo.vn/mua-lon-o-thuong-nguon-nuoc-song-huong-len-tro-lai-post878282.html';
const VNE_2910 = 'NCHMF 15h 29/10 via https://vnexpress.net/lu-o-hue-da-nang-len-tro-lai-4957431.html';
const VNE_3010 = 'NCHMF 06h 30/10 via https://vnexpress.net/lu-song-thu-bon-vuot-muc-lich-su-nam-1964-4957595.html';
const CONFIG = 'config/hue-stations.json observed';

export const FLOOD_2025 = defineFlood({
  title: 'Lũ cuối tháng 10 – đầu tháng 11/2025',
  start: '2025-10-25T00:00+07:00',
  end: '2025-11-05T00:00+07:00',
  levels: {
    'kim-long': [
      { t: '2025-10-25T00:00+07:00', m: 0.9, source: '(U)' },
      { t: '2025-10-26T07:00+07:00', m: 1.5, source: `(U) Dã Viên, 2 km downstream, read 1.72 m (${NLD_2610})` },
      { t: '2025-10-26T19:00+07:00', m: 2.7, source: `(U) Dã Viên read 2.72 m (${NLD_2610})` },
      { t: '2025-10-27T06:00+07:00', m: 3.5, source: '"6h sáng 27/10, mực nước sông Hương vượt báo động ba" (https://vnexpress.net/cuoc-chien-can-nao-o-ron-lu-mien-trung-4960029.html)' },
      { t: '2025-10-27T07:00+07:00', m: 3.58, source: DANTRI_2710 },
      { t: '2025-10-27T22:00+07:00', m: 5.05, source: `first peak: 3.97 m at 04h 29/10 was "giảm hơn lúc đỉnh lũ ngày 27-10 là 1,08 m" (${VIETBAO_2910}); hour (U)` },
      { t: '2025-10-28T09:00+07:00', m: 4.62, source: 'https://vietnamnet.vn/hinh-anh-moi-nhat-tai-tp-hue-khi-nuoc-lu-bua-vay-2457016.html' },
      { t: '2025-10-29T04:00+07:00', m: 3.97, source: VIETBAO_2910 },
      { t: '2025-10-29T07:00+07:00', m: 3.66, source: `4.33 m at 15h, "tăng 0,67 m" since 07h (${VNE_2910})` },
      { t: '2025-10-29T14:00+07:00', m: 4.33, source: PLO_2910 },
      { t: '2025-10-29T20:00+07:00', m: 4.93, source: `second peak: 3.89 m at 06h 30/10, "giảm 1,04 m so với 20h hôm qua" (${VNE_3010})` },
      { t: '2025-10-30T06:00+07:00', m: 3.89, source: VNE_3010 },
      { t: '2025-10-30T07:00+07:00', m: 3.72, source: CONFIG },
      { t: '2025-10-31T12:00+07:00', m: 2.7, source: '(U)' },
      { t: '2025-11-01T17:00+07:00', m: 2.56, source: 'https://huengaynay.vn/chinh-tri-xa-hoi/muc-nuoc-tren-cac-song-chinh-o-hue-dao-dong-duoi-bao-dong-3-159497.html' },
      { t: '2025-11-02T21:00+07:00', m: 3.5, source: CONFIG },
      { t: '2025-11-03T12:00+07:00', m: 4.43, source: `third peak (${VNP_0311}); hour of the peak (U)` },
      { t: '2025-11-04T12:00+07:00', m: 3.2, source: '(U)' },
      { t: '2025-11-05T00:00+07:00', m: 2.5, source: '(U)' },
    ],
    'phu-oc': [
      { t: '2025-10-25T00:00+07:00', m: 1.3, source: '(U)' },
      { t: '2025-10-26T07:00+07:00', m: 2.45, source: NLD_2610 },
      { t: '2025-10-26T19:00+07:00', m: 3.6, source: NLD_2610 },
      { t: '2025-10-26T21:00+07:00', m: 3.63, source: NLD_2610 },
      { t: '2025-10-27T07:00+07:00', m: 4.52, source: DANTRI_2710 },
      { t: '2025-10-27T14:00+07:00', m: 5.25, source: `first peak, "đạt đỉnh 5,25m lúc 14 giờ ngày 27/10" (${VNP_0311})` },
      { t: '2025-10-28T09:00+07:00', m: 4.6, source: '(U) "dao động ở mức báo động 3" overnight (https://vietnamnet.vn/hinh-anh-moi-nhat-tai-tp-hue-khi-nuoc-lu-bua-vay-2457016.html)' },
      { t: '2025-10-29T04:00+07:00', m: 4.46, source: VIETBAO_2910 },
      { t: '2025-10-29T07:00+07:00', m: 4.06, source: `4.97 m at 15h, "tăng 0,91 m so với lúc 7h" (${VNE_2910})` },
      { t: '2025-10-29T14:00+07:00', m: 4.72, source: PLO_2910 },
      { t: '2025-10-29T15:00+07:00', m: 4.97, source: VNE_2910 },
      { t: '2025-10-29T18:00+07:00', m: 5.27, source: `second peak, "đạt đỉnh lần 2 là 5,27m lúc 18 giờ ngày 29/10" (${VNP_0311})` },
      { t: '2025-10-29T20:00+07:00', m: 5.14, source: `4.48 m at 06h 30/10, "giảm 0,66 m" (${VNE_3010})` },
      { t: '2025-10-30T06:00+07:00', m: 4.48, source: VNE_3010 },
      { t: '2025-10-31T12:00+07:00', m: 3.9, source: '(U)' },
      { t: '2025-11-01T17:00+07:00', m: 3.79, source: 'https://huengaynay.vn/chinh-tri-xa-hoi/muc-nuoc-tren-cac-song-chinh-o-hue-dao-dong-duoi-bao-dong-3-159497.html' },
      { t: '2025-11-02T21:00+07:00', m: 4.18, source: CONFIG },
      { t: '2025-11-03T12:00+07:00', m: 5.28, source: `third peak, "lúc 12 giờ ngày 3/11 … 5,28m" (${VNP_0311})` },
      { t: '2025-11-04T12:00+07:00', m: 4.4, source: '(U)' },
      { t: '2025-11-05T00:00+07:00', m: 3.7, source: '(U)' },
    ],
  },
  rain: [
    { from: '2025-10-25T15:00+07:00', to: '2025-10-26T15:00+07:00', mm: { default: 150 }, source: '"tổng lượng mưa từ 15 giờ ngày 25/10 đến 15 giờ ngày 26/10 phổ biến 100-200mm" (https://www.vietnamplus.vn/hoc-sinh-thanh-pho-hue-nghi-hoc-ngay-2710-do-mua-lon-post1072884.vnp)' },
    { from: '2025-10-26T15:00+07:00', to: '2025-10-28T00:00+07:00', mm: { default: 300, 'rg-bach-ma': 500, 'rg-a-luoi': 400 }, source: '(U) within the forecast "250-500mm, có nơi trên 700mm" for 26-28/10 (same source)' },
    { from: '2025-10-29T05:00+07:00', to: '2025-10-29T09:00+07:00', mm: { default: 60, 'rg-thuong-nhat': 204 }, source: '"trong 4 giờ qua … Thượng Nhật (204 mm)" (https://plo.vn/nguoi-dan-dai-noi-hue-vat-lon-trong-nuoc-lu-post878228.html); others (U)' },
    { from: '2025-10-29T08:00+07:00', to: '2025-10-29T14:00+07:00', mm: { default: 80, 'rg-thuong-nhat': 129, 'rg-huong-phu': 170, 'rg-nam-dong': 180 }, source: `8h-14h 29/10 (${PLO_2910}); default (U)` },
    { from: '2025-10-29T07:00+07:00', to: '2025-10-29T15:00+07:00', mm: { 'rg-bach-ma': 406 }, source: `"Lượng mưa từ 7h đến 15h tại đỉnh Bạch Mã (Huế) 406 mm" (${VNE_2910})` },
    { from: '2025-11-01T20:00+07:00', to: '2025-11-02T20:00+07:00', mm: { default: 250, 'rg-nam-dong': 419, 'rg-thuong-nhat': 341.6, 'rg-huong-phu': 264.2 }, source: `24 h to 20h 02/11 (${CONFIG}); default (U)` },
    { from: '2025-11-02T20:00+07:00', to: '2025-11-03T12:00+07:00', mm: { default: 150 }, source: '(U) within the forecast 100-400 mm for 3-5/11 (same source as the third peak)' },
  ],
});
