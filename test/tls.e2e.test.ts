import { copyFile, readFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAsync } from 'mqtt';
import { makeTestPki, type TestPki } from '../broker/tls-certs.ts';
import { launchHuewatch, startHuewatch, type HuewatchChild } from './huewatch-child.ts';

/** `huewatch start` with TLS_CERT_FILE and TLS_KEY_FILE, as an operator runs it (#16.2). */
let pki: TestPki;
let hw: HuewatchChild;
let files: { certFile: string; keyFile: string };
let caA: Buffer;
let caB: Buffer;
let mqttsPort: number;

beforeAll(async () => {
  pki = await makeTestPki();
  caA = await readFile(await pki.ca('ca-a'));
  caB = await readFile(await pki.ca('ca-b'));
  files = await pki.server('ca-a', 'huewatch-a', 'server');
  hw = await startHuewatch({ env: { TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile, MQTT_TLS_PORT: '0', MQTT_WSS_PORT: '0', MQTT_PLAIN_HOST: '127.0.0.1' } });
  mqttsPort = Number(/MQTTS\s+mqtts:\/\/[^:]+:(\d+)/.exec(hw.output())?.[1]);
}, 180_000);
afterAll(async () => {
  await hw?.stop();
  await pki?.cleanup();
});

function servedCn(ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: mqttsPort, ca, servername: 'localhost' }, () => {
      const cn = s.getPeerCertificate().subject.CN;
      s.end();
      resolve(String(cn));
    });
    s.on('error', reject);
  });
}

describe('huewatch start with a certificate', () => {
  it('names the mqtts and wss listeners in its banner', () => {
    expect(hw.output()).toMatch(/MQTTS\s+mqtts:\/\/127\.0\.0\.1:\d+/);
    expect(hw.output()).toMatch(/MQTT\/WSS\s+wss:\/\/127\.0\.0\.1:\d+\/mqtt/);
    expect(mqttsPort).toBeGreaterThan(0);
  });

  it('on SIGHUP serves the renewed certificate, and a session opened before stays connected', async () => {
    const resident = await connectAsync(`mqtts://127.0.0.1:${mqttsPort}`, { ca: caA, clientId: 'resident-hup', reconnectPeriod: 0, connectTimeout: 10_000 });
    let closed = false;
    resident.on('close', () => (closed = true));
    await resident.subscribeAsync('huewatch/v1/alerts/#');
    expect(await servedCn(caA)).toBe('huewatch-a');

    const renewed = await pki.server('ca-b', 'huewatch-b', 'renewed');
    await copyFile(renewed.certFile, files.certFile);
    await copyFile(renewed.keyFile, files.keyFile);
    hw.child.kill('SIGHUP');
    let served = '';
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && served !== 'huewatch-b') {
      served = await servedCn(caB).catch(() => '');
      if (served !== 'huewatch-b') await new Promise((r) => setTimeout(r, 200));
    }
    expect(served).toBe('huewatch-b');
    const fresh = await connectAsync(`mqtts://127.0.0.1:${mqttsPort}`, { ca: caB, clientId: 'resident-new', reconnectPeriod: 0, connectTimeout: 10_000 });
    expect(fresh.connected).toBe(true);
    await fresh.endAsync();
    // the old session: still connected, still answering (a SUBACK needs a live session)
    expect(closed).toBe(false);
    expect((await resident.subscribeAsync('huewatch/v1/obs/#'))[0]?.qos).toBe(0);
    expect(hw.child.exitCode).toBeNull();
    await resident.endAsync();
  }, 90_000);

  it('refuses to start with a certificate file it cannot read, naming the key (exit 2)', async () => {
    const bad = await launchHuewatch({ env: { TLS_CERT_FILE: `${pki.dir}/missing.crt`, TLS_KEY_FILE: files.keyFile, MQTT_TLS_PORT: '0', MQTT_WSS_PORT: '0' } });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/TLS_CERT_FILE=.*missing\.crt: cannot read: ENOENT/);
  }, 90_000);
});
