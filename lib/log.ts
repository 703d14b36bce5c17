import { pino, type Logger } from 'pino';

export type { Logger };

/** One root logger per process; modules take `log.child({ module })`. Secrets are redacted. */
export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'huewatch' },
      redact: { paths: ['secret', 'password', '*.secret', '*.password', 'token', '*.token', 'headers.authorization'], censor: '[redacted]' },
    },
    destination,
  );
}

/** A logger that writes nothing: for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
