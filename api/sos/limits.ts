import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** Calls one address or one app install may send: a person in trouble sends one or two, a prank or a loop many. */
export const SOS_LIMITS = { perAddress: { points: 5, duration: 600 }, perDevice: { points: 3, duration: 600 } } as const;

/** An SOS refused by a rate limit; `retryAfterS` is when the caller may send again. */
export class SosRateLimited extends Error {
  constructor(readonly retryAfterS: number) {
    super('too many SOS calls from here: call 112 if you are in danger');
  }
}

/**
 * The one set of SOS rate limits of an API process, shared by every way in: HTTP (api/routes/sos.ts)
 * and MQTT (api/sos/mqtt.ts). A device key is an app install (HTTP body `deviceId`) or a
 * registered app device (its MQTT topic): both get `perDevice`. Keys are prefixed by where they
 * come from, so an HTTP caller cannot use up a registered app's share by sending its id.
 */
export function createSosLimits(limits: typeof SOS_LIMITS = SOS_LIMITS) {
  const byAddress = new RateLimiterMemory(limits.perAddress);
  const byDevice = new RateLimiterMemory(limits.perDevice);
  return {
    /** counts one call; throws SosRateLimited when over either limit */
    async consume(from: { address?: string; install?: string; appDevice?: string }): Promise<void> {
      try {
        // the device first: one looping app must not use up its neighbours' share of a shared address
        if (from.install) await byDevice.consume(`install:${from.install}`);
        if (from.appDevice) await byDevice.consume(`app:${from.appDevice}`);
        if (from.address) await byAddress.consume(from.address);
      } catch (res) {
        if (res instanceof RateLimiterRes) throw new SosRateLimited(Math.ceil(res.msBeforeNext / 1000));
        throw res;
      }
    },
  };
}
export type SosLimits = ReturnType<typeof createSosLimits>;
