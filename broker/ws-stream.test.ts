import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHarness, waitFor, type Harness } from './test-harness.ts';

// One MQTT packet per WebSocket frame: mqtt-packet writes a PUBLISH in pieces, and each piece once
// went out as a frame of its own (ws-stream.ts). A resident's socket sees whole packets per frame.
let h: Harness;
beforeAll(async () => {
  h = await startHarness([]);
});
afterAll(async () => h.close());

it('delivers an alert to a WebSocket resident as one frame holding the whole PUBLISH', async () => {
  const ws = new WebSocket(h.wsUrl, 'mqtt');
  const frames: Buffer[] = [];
  ws.on('message', (data: Buffer) => frames.push(data));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const send = (packet: object) => ws.send(mqttPacket.generate(packet as mqttPacket.Packet));
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 30 });
  send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'huewatch/v1/alerts/kim-long/#', qos: 1 }] });
  expect(await waitFor(() => frames.length >= 2)).toBe(true); // CONNACK, SUBACK

  const rules = await h.service('rules', 'ws-frames');
  const payload = JSON.stringify({ headline: 'Lũ BĐ3 tại Kim Long', pad: 'x'.repeat(500) });
  await rules.publishAsync('huewatch/v1/alerts/kim-long/flood_kim-long', payload, { qos: 1 });
  expect(await waitFor(() => frames.length >= 3)).toBe(true);

  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: mqttPacket.Packet[] = [];
  parser.on('packet', (p) => packets.push(p));
  const publishFrame = frames[2]!;
  expect(parser.parse(publishFrame)).toBe(0); // no bytes left over: the frame is exactly one packet
  expect(packets).toHaveLength(1);
  expect(packets[0]).toMatchObject({ cmd: 'publish', topic: 'huewatch/v1/alerts/kim-long/flood_kim-long' });
  expect((packets[0] as mqttPacket.IPublishPacket).payload.toString()).toBe(payload);
  ws.terminate();
});
