import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Test support: a certificate authority and server certificates made with the `openssl` command
 * in a temporary folder, as an operator makes them (EC P-256 keys; the server certificate names
 * 127.0.0.1 and localhost). `cleanup()` removes the folder.
 */
export interface TestPki {
  dir: string;
  /** a new CA: its certificate's path (clients' `--cafile`) */
  ca(name: string): Promise<string>;
  /** a server certificate and key signed by CA `caName`, with this common name: their paths */
  server(caName: string, cn: string, file: string): Promise<{ certFile: string; keyFile: string }>;
  cleanup(): Promise<void>;
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'huewatch-pki-'));
  const p = (f: string) => join(dir, f);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir, timeout: 30_000 });
  return {
    dir,
    async ca(name) {
      await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p(`${name}.key`));
      await openssl('req', '-x509', '-new', '-key', p(`${name}.key`), '-days', '2', '-subj', `/CN=${name}`, '-out', p(`${name}.crt`));
      return p(`${name}.crt`);
    },
    async server(caName, cn, file) {
      const keyFile = p(`${file}.key`);
      const certFile = p(`${file}.crt`);
      await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile);
      await openssl('req', '-new', '-key', keyFile, '-subj', `/CN=${cn}`, '-out', p(`${file}.csr`));
      const ext = p(`${file}.ext`);
      await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
      await openssl('x509', '-req', '-in', p(`${file}.csr`), '-CA', p(`${caName}.crt`), '-CAkey', p(`${caName}.key`), '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', certFile);
      return { certFile, keyFile };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
