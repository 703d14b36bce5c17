/**
 * Moist air, as weather services compute it: saturation vapour pressure by the Magnus formula
 * (WMO-No. 8, 2018 edition, Annex 4.B, over water) and the dew point as its inverse.
 */

/** Saturation vapour pressure over water, hPa. */
export function saturationHpa(tC: number): number {
  return 6.112 * Math.exp((17.62 * tC) / (243.12 + tC));
}

/** Dew point (°C) from temperature (°C) and relative humidity (%). */
export function dewPointC(tC: number, rh: number): number {
  const e = (Math.max(1, Math.min(100, rh)) / 100) * saturationHpa(tC);
  const g = Math.log(e / 6.112);
  return (243.12 * g) / (17.62 - g);
}
