/**
 * Stable codes for the Modbus poller (STYLE.md: tests match codes, never messages). They live here
 * until the lead moves them into contract/errors.ts beside the others.
 */
export const ModbusErrorCode = {
  /** the device answered with a Modbus exception response (function code | 0x80) */
  EXCEPTION: 'HW_ERR_MODBUS_EXCEPTION',
  /** no (valid) reply within the timeout */
  TIMEOUT: 'HW_ERR_MODBUS_TIMEOUT',
  /** the connection could not be opened, or was closed by the peer */
  DISCONNECTED: 'HW_ERR_MODBUS_DISCONNECTED',
  /** a reply that does not fit the request (length, CRC, unit id, function) */
  BAD_REPLY: 'HW_ERR_MODBUS_BAD_REPLY',
  DEVICE_UNKNOWN: 'HW_ERR_MODBUS_DEVICE_UNKNOWN',
  REGISTER_UNKNOWN: 'HW_ERR_MODBUS_REGISTER_UNKNOWN',
  /** the register map does not mark the register writable (gate registers never are) */
  NOT_WRITABLE: 'HW_ERR_MODBUS_NOT_WRITABLE',
  VALUE_INVALID: 'HW_ERR_MODBUS_VALUE_INVALID',
  CONFIG_INVALID: 'HW_ERR_CONFIG_INVALID',
} as const;
export type ModbusErrorCode = (typeof ModbusErrorCode)[keyof typeof ModbusErrorCode];

/**
 * Exception codes, Modbus Application Protocol Specification V1.1b3 §7 "MODBUS Exception
 * Responses". Reported by these names in logs, health and metrics.
 */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: 'ILLEGAL_FUNCTION',
  2: 'ILLEGAL_DATA_ADDRESS',
  3: 'ILLEGAL_DATA_VALUE',
  4: 'SERVER_DEVICE_FAILURE',
  5: 'ACKNOWLEDGE',
  6: 'SERVER_DEVICE_BUSY',
  8: 'MEMORY_PARITY_ERROR',
  10: 'GATEWAY_PATH_UNAVAILABLE',
  11: 'GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND',
});

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? `EXCEPTION_${code}`;
}

export class ModbusError extends Error {
  readonly code: ModbusErrorCode;
  /** the exception code when `code` is EXCEPTION */
  readonly exception?: number;
  /** exception name (ILLEGAL_DATA_ADDRESS…) or the kind of failure (TIMEOUT, DISCONNECTED…) */
  readonly kind: string;
  constructor(code: ModbusErrorCode, message: string, exception?: number) {
    super(message);
    this.name = 'ModbusError';
    this.code = code;
    if (exception !== undefined) this.exception = exception;
    this.kind = exception !== undefined ? exceptionName(exception) : code.replace('HW_ERR_MODBUS_', '');
  }
}
