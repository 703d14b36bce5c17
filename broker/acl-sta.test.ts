import { describe, expect, it } from 'vitest';
import { authorize, type Principal } from './acl.ts';
import { authorizeIn } from './conformance.ts';

/** SensorThings API's MQTT extension (api/sta/mqtt.ts): anyone reads v1.1/#, only the API service writes there. */
const resident: Principal = { role: 'resident' };
const api: Principal = { role: 'service', name: 'api' };
const device: Principal = { role: 'device', deviceId: 'kl-01', kind: 'station' };
const TOPIC = "v1.1/Datastreams('kim-long:water_level')/Observations";

describe('the ACL for SensorThings topics (v1.1/#)', () => {
  it('lets an anonymous resident subscribe to a Datastream, every Observation, or all of v1.1', () => {
    for (const f of [TOPIC, 'v1.1/Observations', 'v1.1/#', 'v1.1/+/Observations']) expect(authorize(resident, 'subscribe', f), f).toBe(true);
  });

  it('refuses a resident, a device and the other services any publish there', () => {
    expect(authorize(resident, 'publish', TOPIC)).toBe(false);
    expect(authorize(resident, 'publish', 'v1.1/Observations')).toBe(false);
    expect(authorize(device, 'publish', TOPIC)).toBe(false);
    for (const name of ['ingest', 'rules', 'nodered'] as const) expect(authorize({ role: 'service', name }, 'publish', TOPIC), name).toBe(false);
  });

  it('lets the API service publish Observations there, never retained', () => {
    expect(authorize(api, 'publish', TOPIC)).toBe(true);
    expect(authorize(api, 'publish', TOPIC, { retain: true })).toBe(false);
  });

  it('does not widen a resident beyond v1.1: `#` and other roots stay refused', () => {
    expect(authorize(resident, 'subscribe', '#')).toBe(false);
    expect(authorize(resident, 'subscribe', 'v1.0/#')).toBe(false);
    expect(authorize(resident, 'subscribe', 'huewatch/v1/ops/alerts/#')).toBe(false);
  });

  it('stays read-only in the MQTT conformance profile, which opens every other tree to anonymous clients', () => {
    expect(authorizeIn(true, resident, 'publish', 'TopicA/B')).toBe(true);
    expect(authorizeIn(true, resident, 'publish', TOPIC)).toBe(false);
    expect(authorizeIn(true, resident, 'subscribe', TOPIC)).toBe(true);
  });
});
