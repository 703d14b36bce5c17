import { Registry } from 'prom-client';
import type { Reading } from '../../contract/telemetry.ts';
import { silentLogger } from '../../lib/log.ts';
import { parseModbusMap } from './load.ts';
import { createModbusPoller, type ModbusPoller } from './poller.ts';
import type { ModbusConfig, ModbusDevice } from './schema.ts';

/** Test support: a poller over a map given as YAML text, recording what it hands to the sink. */
export interface Recorded {
  deviceId: string;
  station: string;
  reading: Reading;
  /** wall time the sink was called */
  at: number;
}

export function pollerFor(config: ModbusConfig | string): { poller: ModbusPoller; got: Recorded[]; metrics: Registry } {
  const cfg = typeof config === 'string' ? parseModbusMap(config, 'test.yaml') : config;
  const got: Recorded[] = [];
  const metrics = new Registry();
  const poller = createModbusPoller({
    config: cfg,
    metrics,
    log: silentLogger(),
    accept: async (deviceId, station, readings) => {
      for (const reading of readings) got.push({ deviceId, station, reading, at: Date.now() });
    },
  });
  return { poller, got, metrics };
}

/** A device from the real map, pointed at a simulator on an ephemeral port or a pty. */
export function withTransport(device: ModbusDevice, transport: ModbusDevice['transport'], extra: Partial<ModbusDevice> = {}): ModbusDevice {
  return { ...device, transport, ...extra };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
