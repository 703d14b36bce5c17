import { z } from 'zod';
import { metricName } from './metrics.ts';

/**
 * `huewatch/v1/obs/{stationId}`: normalised observations, published by ingest after the reading is
 * stored. The rules engine and live views consume these, never raw telemetry.
 */
export const observation = z.object({
  station: z.string(),
  device: z.string(),
  /** observation time, epoch ms */
  ts: z.number().int(),
  seq: z.number().int().optional(),
  values: z.array(
    z.object({
      metric: metricName,
      value: z.number(),
      unit: z.string(),
      quality: z.enum(['ok', 'out_of_range']),
    }),
  ).min(1),
});
export type Observation = z.infer<typeof observation>;
