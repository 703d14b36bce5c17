import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The poller's Prometheus series, all labelled by device. */
export function createModbusMetrics(reg: Registry) {
  const registers = [reg];
  return {
    polls: new Counter({ name: 'huewatch_modbus_polls_total', help: 'Modbus polls by device and result', labelNames: ['device', 'result'], registers }),
    errors: new Counter({ name: 'huewatch_modbus_errors_total', help: 'Modbus errors by device and kind (exception name, TIMEOUT, DISCONNECTED…)', labelNames: ['device', 'kind'], registers }),
    latency: new Histogram({
      name: 'huewatch_modbus_poll_seconds',
      help: 'Time to poll every register of a device',
      labelNames: ['device'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    lastGood: new Gauge({ name: 'huewatch_modbus_last_good_poll_seconds', help: 'Unix time of the last complete poll', labelNames: ['device'], registers }),
    up: new Gauge({ name: 'huewatch_modbus_device_up', help: '1 when the last poll of the device read everything, every value a number', labelNames: ['device'], registers }),
    registersRead: new Counter({ name: 'huewatch_modbus_registers_read_total', help: 'Registers (and bits) read', labelNames: ['device'], registers }),
    nonFiniteValues: new Counter({
      name: 'huewatch_modbus_non_finite_values_total',
      help: 'Register values that decoded to NaN or ±Infinity: dropped (not a measurement), the rest of the poll kept',
      labelNames: ['device', 'register'],
      registers,
    }),
    connects: new Counter({ name: 'huewatch_modbus_connects_total', help: 'Connection attempts by device and result', labelNames: ['device', 'result'], registers }),
  };
}
export type ModbusMetrics = ReturnType<typeof createModbusMetrics>;
