import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

/**
 * The certificate and key of the mqtts and wss listeners, read from files (TLS_CERT_FILE,
 * TLS_KEY_FILE, optional TLS_CA_FILE: the intermediate chain, sent after the certificate). Read
 * again on SIGHUP (platform/start-broker.ts) and handed to the running servers with
 * `setSecureContext`: new handshakes get the new certificate, connections already open keep
 * theirs, so no session is dropped by a renewal.
 */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string | undefined;
}

export class TlsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsFileError';
  }
}

async function readPem(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new TlsFileError(`${key}=${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** the files read and checked as a pair (a key that does not match the certificate is refused here, not at the first handshake) */
export async function loadTlsContext(f: TlsFiles): Promise<SecureContextOptions> {
  const [cert, key, chain] = await Promise.all([readPem(f.certFile, 'TLS_CERT_FILE'), readPem(f.keyFile, 'TLS_KEY_FILE'), f.caFile ? readPem(f.caFile, 'TLS_CA_FILE') : Promise.resolve('')]);
  const options: SecureContextOptions = { cert: chain ? `${cert.trimEnd()}\n${chain}` : cert, key, minVersion: 'TLSv1.2' };
  try {
    createSecureContext(options);
  } catch (err) {
    throw new TlsFileError(`TLS_CERT_FILE=${f.certFile}, TLS_KEY_FILE=${f.keyFile}: ${(err as Error).message}`);
  }
  return options;
}
