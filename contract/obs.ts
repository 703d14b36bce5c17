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
  /**
   * when the platform received the reading, epoch ms (ingest's clock). Rules judge from it whether
   * a reading is current (a store-and-forward flush is not) and whether the device is talking
   * (staleness); absent (older producers): taken as received at `ts`.
   */
  receivedAt: z.number().int().optional(),
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
