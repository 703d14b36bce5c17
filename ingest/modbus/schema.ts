import { z } from 'zod';
import { metricName } from '../../contract/metrics.ts';

/**
 * The Modbus register map (config/modbus.yaml): devices, how to reach them, and what each register
 * holds. One file feeds the poller, the simulator (firmware-sim/modbus) and the vendor-style table
 * in firmware-sim/modbus/README.md, so the three cannot drift apart.
 */

/** Modbus Application Protocol V1.1b3 §6.1–6.4: the four read functions and their tables. */
export const registerFunction = z.enum(['coil', 'discrete', 'holding', 'input']);
export type RegisterFunction = z.infer<typeof registerFunction>;

export const dataType = z.enum(['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32']);
export type DataType = z.infer<typeof dataType>;

/** `big`: most significant first (the Modbus default, §4.2); `little` swaps bytes in a word or words in a pair. */
export const order = z.enum(['big', 'little']);
export type Order = z.infer<typeof order>;

/** §6.1/6.3: at most 2000 bits or 125 registers in one read request. */
export const MAX_BITS_PER_REQUEST = 2000;
export const MAX_REGISTERS_PER_REQUEST = 125;

const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower_snake_case name');

export const registerSpec = z
  .strictObject({
    name,
    function: registerFunction,
    /** zero-based protocol address (PDU address), not the 4xxxx "reference" of some vendors */
    address: z.number().int().min(0).max(0xffff),
    type: dataType.optional(),
    byteOrder: order.default('big'),
    wordOrder: order.default('big'),
    /** engineering value = raw × scale + offset */
    scale: z.number().refine((n) => n !== 0 && Number.isFinite(n), 'must be finite and not 0').default(1),
    offset: z.number().default(0),
    /** the catalogue metric the value becomes; registers without one are not turned into readings */
    metric: metricName.optional(),
    unit: z.string().optional(),
    /** may an operator set it through the API (admin role)? gate registers never are */
    writable: z.boolean().default(false),
    description: z.string().optional(),
  })
  .transform((r) => ({ ...r, type: r.type ?? (r.function === 'coil' || r.function === 'discrete' ? 'bool' : 'uint16') }) as const)
  .superRefine((r, ctx) => {
    const bit = r.function === 'coil' || r.function === 'discrete';
    if (bit !== (r.type === 'bool')) {
      ctx.addIssue({ code: 'custom', path: ['type'], message: bit ? `a ${r.function} holds one bit: type must be bool` : `bool is only for coils and discrete inputs` });
    }
    if (r.writable && (r.function === 'input' || r.function === 'discrete')) {
      ctx.addIssue({ code: 'custom', path: ['writable'], message: `${r.function} tables are read-only in Modbus` });
    }
    if (r.writable && isGateRegister(r)) {
      ctx.addIssue({ code: 'custom', path: ['writable'], message: 'gate registers are never writable from HueWatch (gates are operated at the dam)' });
    }
  });
export type RegisterSpec = z.output<typeof registerSpec>;

/** A gate register is one about spillway gates: HueWatch watches gates, it never moves them. */
export function isGateRegister(r: { name: string; metric?: string | undefined }): boolean {
  return r.metric === 'gate_opening' || /(^|_)gates?(_|$)/.test(r.name);
}

const pollOptions = {
  pollIntervalMs: z.number().int().min(50).max(3_600_000),
  timeoutMs: z.number().int().min(10).max(60_000),
  /** extra attempts of a request after a timeout or busy reply, within one poll */
  retries: z.number().int().min(0).max(10),
  maxRegistersPerRequest: z.number().int().min(1).max(MAX_REGISTERS_PER_REQUEST),
  /** unused registers a request may span to join two blocks (0 = never read what is not mapped) */
  maxGap: z.number().int().min(0).max(MAX_REGISTERS_PER_REQUEST),
  reconnectInitialMs: z.number().int().min(10),
  reconnectMaxMs: z.number().int().min(10),
};

export const DEFAULT_POLL = Object.freeze({
  pollIntervalMs: 10_000,
  timeoutMs: 1_000,
  retries: 1,
  maxRegistersPerRequest: MAX_REGISTERS_PER_REQUEST,
  maxGap: 8,
  reconnectInitialMs: 1_000,
  reconnectMaxMs: 60_000,
});

export const tcpTransport = z.strictObject({
  kind: z.literal('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535).default(502),
});
export const rtuTransport = z.strictObject({
  kind: z.literal('rtu'),
  /** serial device, e.g. /dev/ttyUSB0, or a `${ENV}`-free literal path */
  path: z.string().min(1),
  baudRate: z.number().int().positive().default(9600),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
});
export const transport = z.discriminatedUnion('kind', [tcpTransport, rtuTransport]);
export type Transport = z.output<typeof transport>;

export const deviceSpec = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case id with dashes'),
  station: z.string().min(1),
  description: z.string().optional(),
  transport,
  /** §4.1 "unit identifier"; 1–247 on a serial line, 0/255 also seen behind TCP gateways */
  unitId: z.number().int().min(0).max(255),
  ...z.object(pollOptions).partial().shape,
  registers: z.array(registerSpec).min(1),
});
export type DeviceSpec = z.output<typeof deviceSpec>;

export const modbusFile = z.strictObject({
  defaults: z.strictObject(pollOptions).partial().default({}),
  devices: z.array(deviceSpec),
});
export type ModbusFile = z.output<typeof modbusFile>;

/** A device with its defaults resolved: what the poller and the simulator use. */
export type ModbusDevice = Omit<DeviceSpec, keyof typeof pollOptions> & { [K in keyof typeof pollOptions]: number };
export interface ModbusConfig {
  file: string;
  devices: readonly ModbusDevice[];
}

/** Words (16-bit registers) a value of this type occupies; bits count as one. */
export function widthOf(type: DataType): number {
  return type === 'int32' || type === 'uint32' || type === 'float32' ? 2 : 1;
}
