import { defineFlood } from './hydrograph.ts';

/**
 * October 2020, the first two of that month's floods: 8-10 Oct (the Bồ at Phú Ốc above its 1999
 * record) and 17-19 Oct (rivers from Quảng Bình to Huế above alarm level 2-3). Two peaks.
 */
const BAOMOI_1010 = 'Lũ sông Bồ tại Huế vượt mức lịch sử năm 1999 (https://lite.baomoi.com/lu-song-bo-tai-hue-vuot-muc-lich-su-nam-1999-c36648054.epi): "đạt đỉnh vào lúc 23h ngày 9/10 trên báo động 3 là 0,74m"';
const DANTRI_2025 = 'the 2020 record 5.24 m quoted in https://dantri.com.vn/thoi-su/lu-tran-vao-benh-vien-bac-si-cung-cong-an-bo-doi-khenh-benh-nhan-so-tan-20251027132206655.htm';
const THANHNIEN_1910 = 'NCHMF via https://thanhnien.vn/thoi-su/du-bao-thoi-tiet-hom-nay-19102020-trung-bo-mua-lon-canh-bao-lu-1293523.html (01h 19/10/2020)';

export const FLOOD_2020 = defineFlood({
  title: 'Lũ tháng 10/2020',
  start: '2020-10-07T00:00+07:00',
  end: '2020-10-21T00:00+07:00',
  levels: {
    'kim-long': [
      { t: '2020-10-07T00:00+07:00', m: 0.7, source: '(U)' },
      { t: '2020-10-08T12:00+07:00', m: 1.2, source: '(U)' },
      { t: '2020-10-09T21:00+07:00', m: 3.0, source: '(U) first peak: no Kim Long peak found; below BĐ3 (forecast falling to 2.7 m by 07h 10/10)' },
      { t: '2020-10-10T07:00+07:00', m: 2.7, source: `(U) forecast in ${BAOMOI_1010}` },
      { t: '2020-10-12T00:00+07:00', m: 1.6, source: '(U)' },
      { t: '2020-10-15T00:00+07:00', m: 1.2, source: '(U) between the floods' },
      { t: '2020-10-17T06:00+07:00', m: 1.4, source: '(U)' },
      { t: '2020-10-18T09:00+07:00', m: 3.1, source: '(U) second peak: no Kim Long peak found for 18/10' },
      { t: '2020-10-19T01:00+07:00', m: 2.52, source: THANHNIEN_1910 },
      { t: '2020-10-19T18:00+07:00', m: 2.0, source: `forecast "xuống mức 2,0 m" (${THANHNIEN_1910})` },
      { t: '2020-10-20T07:00+07:00', m: 1.6, source: `forecast "xuống mức 1,6 m" (${THANHNIEN_1910})` },
      { t: '2020-10-21T00:00+07:00', m: 1.2, source: '(U)' },
    ],
    'phu-oc': [
      { t: '2020-10-07T00:00+07:00', m: 1.1, source: '(U)' },
      { t: '2020-10-08T12:00+07:00', m: 2.0, source: '(U)' },
      { t: '2020-10-09T23:00+07:00', m: 5.24, source: `${BAOMOI_1010}; ${DANTRI_2025}` },
      { t: '2020-10-10T07:00+07:00', m: 5.0, source: `forecast "xuống mức 5,0m" in ${BAOMOI_1010}` },
      { t: '2020-10-12T00:00+07:00', m: 3.2, source: '(U)' },
      { t: '2020-10-15T00:00+07:00', m: 2.2, source: '(U) between the floods' },
      { t: '2020-10-17T06:00+07:00', m: 2.4, source: '(U)' },
      { t: '2020-10-18T06:00+07:00', m: 4.0, source: '(U) second peak: no Phú Ốc peak found for 18/10' },
      { t: '2020-10-19T01:00+07:00', m: 3.39, source: THANHNIEN_1910 },
      { t: '2020-10-19T18:00+07:00', m: 3.0, source: `forecast "dao động ở mức 3,0 m" (${THANHNIEN_1910})` },
      { t: '2020-10-21T00:00+07:00', m: 2.3, source: '(U)' },
    ],
  },
  rain: [
    { from: '2020-10-07T12:00+07:00', to: '2020-10-09T18:00+07:00', mm: { default: 350, 'rg-a-luoi': 500, 'rg-bach-ma': 450 }, source: '(U) event totals: no gauge totals found for 7-9/10/2020' },
    {
      from: '2020-10-16T12:00+07:00', to: '2020-10-18T06:00+07:00', mm: { default: 200 },
      source: 'forecast "Quảng Trị, Thừa Thiên-Huế có mưa từ 150 - 250 mm/đợt" (https://thanhnien.vn/thoi-su/mua-lu-lam-84-nguoi-chet-38-nguoi-mat-tich-1293499.html); per gauge (U)',
    },
  ],
});
