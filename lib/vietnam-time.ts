/** Vietnam time is UTC+7 all year (no daylight saving): days and hours of bulletins are local. */
export const VN_OFFSET_MS = 7 * 3_600_000;

/** YYYY-MM-DD of the Vietnam-time day `ms` falls in. */
export function vnDate(ms: number): string {
  return new Date(ms + VN_OFFSET_MS).toISOString().slice(0, 10);
}

/** Epoch ms of 00:00 Vietnam time of the day `ms` falls in. */
export function vnMidnight(ms: number): number {
  return Date.parse(`${vnDate(ms)}T00:00:00Z`) - VN_OFFSET_MS;
}
