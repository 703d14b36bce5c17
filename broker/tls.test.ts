import { execFile } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { makeTestPki, type TestPki } from './tls-certs.ts';
import { startHarness, waitFor, type Harness } from './test-harness.ts';

const run = promisify(execFile);
const R = 'huewatch/v1';
let pki: TestPki;
let h: Harness;
let caA: string;
let caB: string;
let files: { certFile: string; keyFile: string };
let mqttsPort: number;
let wssPort: number;

beforeAll(async () => {
  pki = await makeTestPki();
  caA = await pki.ca('ca-a');
  caB = await pki.ca('ca-b');
  files = await pki.server('ca-a', 'huewatch-a', 'server');
  h = await startHarness(['dev-tls'], { tls: { files, port: 0, wssPort: 0 } });
  mqttsPort = h.ports.mqttsPort!;
  wssPort = h.ports.wssPort!;
}, 60_000);
afterAll(async () => {
  await h?.close();
  await pki?.cleanup();
});

/** the common name of the certificate the mqtts listener presents now */
function servedCn(ca: string): Promise<string> {
  return readFile(ca).then(
    (caPem) =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: mqttsPort, ca: caPem, servername: 'localhost' }, () => {
          const cn = s.getPeerCertificate().subject.CN;
          s.end();
          resolve(String(cn));
        });
        s.on('error', reject);
      }),
  );
}

function mosquittoPub(cafile: string, payload: string) {
  const secret = h.secrets.get('dev-tls')!;
  return run('mosquitto_pub', ['-V', '311', '-h', '127.0.0.1', '-p', String(mqttsPort), '--cafile', cafile, '-i', 'dev-tls', '-u', 'dev-tls', '-P', secret, '-q', '1', '-t', `${R}/status/dev-tls`, '-m', payload], { timeout: 30_000 }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
}

async function statusWatcher(ca: Buffer, suffix: string): Promise<{ client: MqttClient; got: string[] }> {
  const client = await h.service('api', suffix, { protocol: 'mqtts', host: '127.0.0.1', port: mqttsPort, ca } as never);
  const got: string[] = [];
  client.on('message', (_t, p) => got.push(p.toString()));
  await client.subscribeAsync(`${R}/status/+`, { qos: 1 });
  return { client, got };
}

describe('TLS listeners', () => {
  it('take mosquitto_pub --cafile and MQTT.js over mqtts, and MQTT.js over wss', async () => {
    const caPem = await readFile(caA);
    const { client, got } = await statusWatcher(caPem, 'tls-1');
    const r = await mosquittoPub(caA, '{"online":true,"via":"mosquitto_pub"}');
    expect(r).toEqual({ code: 0, stderr: '' });
    expect(await waitFor(() => got.includes('{"online":true,"via":"mosquitto_pub"}'), 10_000)).toBe(true);
    const resident = await h.connect({ clientId: 'resident-wss', ca: caPem } as never, `wss://127.0.0.1:${wssPort}/mqtt`);
    expect(resident.connected).toBe(true);
    const granted = await resident.subscribeAsync(`${R}/alerts/#`);
    expect(granted[0]?.qos).toBe(0);
    await resident.endAsync();
    await client.endAsync();
  }, 60_000);

  it('refuse a client that trusts another CA: the handshake fails, nothing is published', async () => {
    const r = await mosquittoPub(caB, '{"online":"never"}');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/certificate verify failed|TLS|SSL/i);
    const err = await h.connect({ protocol: 'mqtts', host: '127.0.0.1', port: mqttsPort, clientId: 'resident-bad', ca: await readFile(caB) } as never, `mqtts://127.0.0.1:${mqttsPort}`).then(
      () => 'connected',
      (e: Error) => e.message,
    );
    expect(err).toMatch(/self[- ]signed|unable to verify|certificate/i);
  }, 60_000);

  it('serve a renewed certificate after reload while a session opened before stays connected', async () => {
    const { client: before, got } = await statusWatcher(await readFile(caA), 'tls-2');
    expect(await servedCn(caA)).toBe('huewatch-a');
    const renewed = await pki.server('ca-b', 'huewatch-b', 'renewed');
    await copyFile(renewed.certFile, files.certFile);
    await copyFile(renewed.keyFile, files.keyFile);
    await h.broker.reloadTls();
    expect(await servedCn(caB)).toBe('huewatch-b');
    await expect(servedCn(caA)).rejects.toThrow(/certificate|verify|signed/i);
    // the session opened under the old certificate is still up and still receives
    expect(before.connected).toBe(true);
    const r = await mosquittoPub(caB, '{"online":true,"via":"renewed"}');
    expect(r).toEqual({ code: 0, stderr: '' });
    expect(await waitFor(() => got.includes('{"online":true,"via":"renewed"}'), 10_000)).toBe(true);
    expect(before.connected).toBe(true);
    await before.endAsync();
  }, 60_000);

  it('keep the old certificate when the new files are bad', async () => {
    await copyFile(caA, files.keyFile); // a certificate where the key should be
    await expect(h.broker.reloadTls()).rejects.toThrow(/TLS_KEY_FILE/);
    expect(await servedCn(caB)).toBe('huewatch-b');
  }, 60_000);
});
