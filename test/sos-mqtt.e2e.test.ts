import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ErrorWithSubackPacket, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/topics.ts';
import { BIN, startHuewatch, type HuewatchChild } from './huewatch-child.ts';
import { connectClient, waitFor } from './helpers.ts';

const exec = promisify(execFile);
/** a call from Kim Long, as a partner's residents' app sends it */
const CALL = { lat: 16.462, lon: 107.556, located: 'gps', text: 'Nước lên tới mái, nhà có 2 người già', phone: '0912 345 678' };

/**
 * Residents' SOS from another app over MQTT (#15.3) against `huewatch start`: a registered app
 * (`huewatch device add … --app`) publishes the SOS body on huewatch/v1/sos/{id} and reads the answer
 * on huewatch/v1/devices/{id}/sos, with MQTT.js and with mosquitto_pub/_sub; the call is in the
 * operators' list. Residents and stations can neither send there nor read the answers, a bad
 * payload is answered with an error, and an app's 4th call in 10 minutes is refused.
 */
describe("residents' SOS over MQTT from a registered app", () => {
  let h: HuewatchChild;
  let operatorToken: string;
  const secrets: Record<string, string> = {};
  let host: string;
  let port: string;

  const cli = (args: string[]) =>
    exec(process.execPath, [BIN, ...args], { env: { ...process.env, DATA_DIR: h.dataDir, HOST: '127.0.0.1', HTTP_PORT: new URL(h.httpUrl).port, LOG_LEVEL: 'warn' }, timeout: 60_000 });
  const listed = async () => {
    const res = await fetch(`${h.httpUrl}/api/v1/sos`, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { calls: Array<{ id: string; status: string; personal?: { phone: string } }> }).calls;
  };
  /** one client that sends calls and reads the answers, as an app backend would */
  async function appClient(deviceId: string) {
    const client = await connectClient(h.mqttUrl, { username: deviceId, password: secrets[deviceId]!, clientId: deviceId });
    const answers: unknown[] = [];
    client.on('message', (topic, payload) => { if (topic === topics.sosAnswer(deviceId)) answers.push(JSON.parse(payload.toString())); });
    const [granted] = await client.subscribeAsync(topics.sosAnswer(deviceId), { qos: 1 });
    expect(granted!.qos).toBe(1);
    return {
      client,
      /** sends one payload (QoS 1) and waits for its answer */
      async send(payload: string): Promise<Record<string, unknown>> {
        const before = answers.length;
        await client.publishAsync(topics.sos(deviceId), payload, { qos: 1 });
        return (await waitFor(() => answers[before], 20_000, `the answer to ${deviceId}'s call`)) as Record<string, unknown>;
      },
    };
  }

  beforeAll(async () => {
    h = await startHuewatch();
    operatorToken = (await h.secrets()).operatorToken;
    ({ hostname: host, port } = new URL(h.mqttUrl));
    for (const [id, kind] of [['partner-app-01', '--app'], ['partner-app-02', '--app'], ['partner-app-03', '--app']] as const) {
      const { stdout } = await cli(['device', 'add', id, kind]);
      expect(stdout).toMatch(/as an app that sends SOS calls/);
      expect(stdout).toContain(`publish to:    huewatch/v1/sos/${id}`);
      expect(stdout).toContain(`answers on:    huewatch/v1/devices/${id}/sos`);
      secrets[id] = /MQTT password: (\S+)/.exec(stdout)![1]!;
    }
    secrets['kl-sos-01'] = /MQTT password: (\S+)/.exec((await cli(['device', 'add', 'kl-sos-01', '--station', 'kim-long'])).stdout)![1]!;
  }, 180_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('takes an app\'s call over MQTT.js, answers with its id and token, lists it for the operator, and refuses the 4th call in 10 minutes', async () => {
    const app = await appClient('partner-app-01');
    try {
      const first = await app.send(JSON.stringify(CALL));
      expect(first).toMatchObject({ id: expect.any(String), token: expect.any(String), status: 'new', district: 'Thành phố Huế', alerts: [] });
      const call = (await listed()).find((c) => c.id === first.id);
      expect(call).toMatchObject({ status: 'new', personal: { phone: '0912345678' } });
      // the token follows the call, as on the residents' page
      const track = await fetch(`${h.httpUrl}/api/v1/sos/${String(first.id)}/track?token=${encodeURIComponent(String(first.token))}`);
      expect(track.status).toBe(200);
      expect(await track.json()).toMatchObject({ id: first.id, status: 'new' });

      // a bad call is answered with an error naming the problem, does not count, and stops nothing
      expect(await app.send('{"lat":16.46,')).toMatchObject({ error: { code: 'HW_ERR_PAYLOAD_INVALID', message: expect.stringMatching(/not an SOS call/) } });
      expect(await app.send(JSON.stringify({ ...CALL, phone: '12345' }))).toMatchObject({ error: { code: 'HW_ERR_PAYLOAD_INVALID', message: expect.stringMatching(/^phone: expected a Vietnamese phone number/) } });
      expect(await app.send(JSON.stringify({ ...CALL, lat: 21.03 }))).toMatchObject({ error: { code: 'HW_ERR_PAYLOAD_INVALID', message: expect.stringMatching(/Thừa Thiên Huế/) } });

      expect(await app.send(JSON.stringify({ ...CALL, text: 'second' }))).toMatchObject({ status: 'new' });
      expect(await app.send(JSON.stringify({ ...CALL, text: 'third' }))).toMatchObject({ status: 'new' });
      const fourth = await app.send(JSON.stringify({ ...CALL, text: 'fourth' }));
      expect(fourth).toMatchObject({ error: { code: 'HW_ERR_RATE_LIMITED', message: expect.stringMatching(/112/) } });
      expect(fourth).not.toHaveProperty('id');
      expect((await listed()).filter((c) => c.personal?.phone === '0912345678')).toHaveLength(3);
    } finally {
      await app.client.endAsync();
    }
    // counted for the operators' dashboards
    const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/huewatch_sos_mqtt_calls_total\{result="accepted"\} 3/);
    expect(metrics).toMatch(/huewatch_sos_mqtt_calls_total\{result="invalid"\} 3/);
    expect(metrics).toMatch(/huewatch_sos_mqtt_calls_total\{result="rate_limited"\} 1/);
  }, 120_000);

  it('takes a call sent with mosquitto_pub and answers it to mosquitto_sub on the app\'s persistent session', async () => {
    const id = 'partner-app-02';
    const auth = ['-V', '311', '-h', host, '-p', port, '-u', id, '-P', secrets[id]!, '-i', id];
    const answer = topics.sosAnswer(id);
    // one client id per device (the broker's rule): subscribe on a persistent session, send on the
    // same session (-c: a clean session would drop the subscription [MQTT-3.1.2-6]; mosquitto_pub
    // disconnects at its PUBACK, before the desk has answered), then come back for the queued answer
    await exec('mosquitto_sub', [...auth, '-c', '-q', '1', '-t', answer, '-E'], { timeout: 30_000 });
    await exec('mosquitto_pub', [...auth, '-c', '-q', '1', '-t', topics.sos(id), '-m', JSON.stringify({ ...CALL, phone: '0905 123 456', text: 'mosquitto' })], { timeout: 30_000 });
    const { stdout } = await exec('mosquitto_sub', [...auth, '-c', '-q', '1', '-t', answer, '-C', '1', '-W', '30'], { timeout: 40_000 });
    const got = JSON.parse(stdout) as { id: string; token: string; status: string };
    expect(got).toMatchObject({ id: expect.any(String), token: expect.any(String), status: 'new' });
    expect((await listed()).find((c) => c.id === got.id)).toMatchObject({ personal: { phone: '0905123456' } });
  }, 120_000);

  it('answers the README\'s mosquitto_rr example (send and read on one connection)', async () => {
    const readme = await readFile(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const line = /^mosquitto_rr [^\n]*sos\/partner-app-01 \\\n[^\n]+$/m.exec(readme)?.[0];
    expect(line, 'the example in README.md').toBeDefined();
    const id = 'partner-app-03';
    const command = line!.replace(/ \\\n\s*/, ' ').replaceAll('partner-app-01', id).replace('HOST', `${host} -p ${port}`).replace('SECRET', secrets[id]!);
    const { stdout } = await exec('sh', ['-c', command], { timeout: 30_000 });
    const got = JSON.parse(stdout) as { id: string; token: string };
    expect(got).toMatchObject({ id: expect.any(String), token: expect.any(String), status: 'new', district: 'Thành phố Huế' });
    expect((await listed()).find((c) => c.id === got.id)).toMatchObject({ status: 'new' });
  }, 60_000);

  it('lets neither a resident nor a station send an SOS there, and no resident read the answers', async () => {
    const before = (await listed()).length;
    // a resident (anonymous): the subscription to an app's answers is refused, and so is a publish on its SOS topic
    const resident = await connectClient(h.mqttUrl);
    for (const filter of [topics.sosAnswer('partner-app-01'), 'huewatch/v1/devices/+/sos', 'huewatch/v1/sos/+', 'huewatch/v1/sos/partner-app-01']) {
      const err = await resident.subscribeAsync(filter, { qos: 1 }).then(() => undefined, (e: unknown) => e as ErrorWithSubackPacket);
      expect(err?.packet.granted, filter).toEqual([0x80]);
    }
    await expectPublishRefused(resident, topics.sos('partner-app-01'));

    const anonPub = await exec('mosquitto_pub', ['-V', '311', '-h', host, '-p', port, '-q', '1', '-t', topics.sos('partner-app-01'), '-m', JSON.stringify(CALL)], { timeout: 30_000 })
      .then(() => 0, (e: { code: number }) => e.code);
    expect(anonPub).not.toBe(0);

    // a station's sensor: not on its own id, not on an app's
    const station = await connectClient(h.mqttUrl, { username: 'kl-sos-01', password: secrets['kl-sos-01']!, clientId: 'kl-sos-01' });
    await expectPublishRefused(station, topics.sos('kl-sos-01'));
    const station2 = await connectClient(h.mqttUrl, { username: 'kl-sos-01', password: secrets['kl-sos-01']!, clientId: 'kl-sos-01' });
    await expectPublishRefused(station2, topics.sos('partner-app-01'));

    // give any call that slipped through time to be recorded: none may have
    await new Promise((r) => setTimeout(r, 1000));
    expect((await listed()).length).toBe(before);
  }, 120_000);
});

/** A refused publish closes the connection [MQTT-3.3.5-2]: the QoS 1 publish is never acknowledged. */
async function expectPublishRefused(client: MqttClient, topic: string) {
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  const outcome = await Promise.race([
    client.publishAsync(topic, JSON.stringify(CALL), { qos: 1 }).then(() => 'acknowledged', () => 'refused'),
    closed.then(() => 'refused'),
    new Promise((r) => setTimeout(() => r('timeout'), 15_000)),
  ]);
  expect(outcome, topic).toBe('refused');
  client.end(true);
}
