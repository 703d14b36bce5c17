import { defineFlood } from './hydrograph.ts';

/**
 * November 2017, after typhoon Damrey (landfall in Khánh Hòa on 4 Nov): rain from Thừa Thiên Huế
 * southwards; the Bồ at Phú Ốc rose to about its 1999 record, the Hương at Kim Long well above
 * alarm level 3 on 5 Nov. One peak per river.
 */
const T17_0509 = 'Tin lũ lớn trên các sông tại Thừa Thiên Huế, 09h 05/11/2017 (thuyloihue.vn/tin-tuc/tid/Tin-lu-lon-tren-cac-song-tai-Thua-Thien-Hue/newsid/F07BB433-E913-49AA-9B32-A824008A8E57)';
const T17_0906 = 'Tin lũ trên các sông tại Thừa Thiên Huế, 06h15 09/11/2017 (thuathienhue.gov.vn, via http://xuhue.com/index.php/2017/11/09/tin-lu-tren-cac-song-tai-thua-thien-hue-luc-06-gio-15-ngay-09112017/)';

export const FLOOD_2017 = defineFlood({
  title: 'Lũ tháng 11/2017 (bão Damrey)',
  start: '2017-11-03T00:00+07:00',
  end: '2017-11-10T00:00+07:00',
  levels: {
    'kim-long': [
      { t: '2017-11-03T00:00+07:00', m: 0.6, source: '(U) dry-weather level before the rain' },
      { t: '2017-11-04T06:00+07:00', m: 0.9, source: '(U)' },
      { t: '2017-11-04T18:00+07:00', m: 2.1, source: '(U) rise timing: bulletins of 4-5/11 report the rivers rising fast' },
      { t: '2017-11-05T09:00+07:00', m: 3.63, source: T17_0509 },
      { t: '2017-11-05T18:00+07:00', m: 4.2, source: `(U) forecast peak "lên mức 4,2 m" in ${T17_0509}` },
      { t: '2017-11-06T12:00+07:00', m: 3.4, source: '(U)' },
      { t: '2017-11-07T12:00+07:00', m: 2.5, source: '(U)' },
      { t: '2017-11-09T06:00+07:00', m: 1.85, source: T17_0906 },
      { t: '2017-11-10T00:00+07:00', m: 1.3, source: '(U) forecast "xuống chậm" in the same bulletin' },
    ],
    'phu-oc': [
      { t: '2017-11-03T00:00+07:00', m: 1.0, source: '(U)' },
      { t: '2017-11-04T06:00+07:00', m: 1.4, source: '(U)' },
      { t: '2017-11-04T18:00+07:00', m: 3.1, source: '(U)' },
      { t: '2017-11-05T09:00+07:00', m: 4.98, source: `${T17_0509}; config/hue-stations.json observed` },
      { t: '2017-11-05T16:00+07:00', m: 5.3, source: `(U) forecast peak "lên mức 5,3 m … trên mức lũ lịch sử năm 1999" in ${T17_0509}` },
      { t: '2017-11-06T12:00+07:00', m: 4.6, source: '(U)' },
      { t: '2017-11-07T12:00+07:00', m: 3.9, source: '(U)' },
      { t: '2017-11-09T06:00+07:00', m: 3.25, source: T17_0906 },
      { t: '2017-11-10T00:00+07:00', m: 2.8, source: '(U)' },
    ],
  },
  rain: [
    {
      from: '2017-11-03T18:00+07:00', to: '2017-11-05T12:00+07:00',
      mm: { default: 250, 'rg-nam-dong': 400, 'rg-bach-ma': 500, 'rg-a-luoi': 350, 'rg-thuong-nhat': 380 },
      source: '(U) event totals: no gauge totals found for 3-5/11/2017; the bulletin warns of flash floods in Nam Đông, A Lưới, Phú Lộc',
    },
  ],
});
