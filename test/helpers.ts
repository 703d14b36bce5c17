import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { loadConfig } from '../platform/config.ts';
import { silentLogger } from '../lib/log.ts';
import { startPlatform, type Platform } from '../platform/main.ts';

/** A temporary data folder, removed by the returned cleanup. */
export async function tempDir(prefix = 'huewatch-test-'): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The whole platform in this process on ephemeral ports, simulator off unless asked. */
export async function startTestPlatform(dataDir: string, env: Record<string, string> = {}): Promise<Platform> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    MQTT_PORT: '0',
    MQTT_WS_PORT: '0',
    HTTP_PORT: '0',
    DATA_DIR: dataDir,
    SIM: '0',
    LOG_LEVEL: 'silent',
    ...env,
  });
  return startPlatform(config, silentLogger());
}

/** Polls until `check` returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 2000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function connectClient(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
}

/** Collects every message of a client, with its retain flag. */
export function collect(client: MqttClient) {
  const messages: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return messages;
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** A minimal EventSource over fetch: parses the text/event-stream framing (WHATWG HTML §9.2.6). */
export async function openSse(url: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  if (!res.ok || !res.body) throw new Error(`SSE ${url}: ${res.status}`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const pump = (async () => {
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const ev: SseEvent = { event: 'message', data: '' };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const [field, ...rest] = line.split(':');
            const value = rest.join(':').replace(/^ /, '');
            if (field === 'id') ev.id = value;
            else if (field === 'event') ev.event = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length > 0 || ev.id !== undefined) events.push({ ...ev, data: data.join('\n') });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    events,
    close: async () => {
      ac.abort();
      await pump;
    },
  };
}

/** Registers a device through the API with the platform's admin token; returns its secret. */
export async function registerDevice(platform: Platform, deviceId: string, station: string): Promise<string> {
  const res = await fetch(platform.httpUrl + '/api/v1/devices', {
    method: 'POST',
    headers: { authorization: `Bearer ${platform.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ deviceId, station }),
  });
  const body = (await res.json()) as { secret?: string; message?: string };
  if (res.status !== 201 || !body.secret) throw new Error(`registering ${deviceId}: ${res.status} ${body.message ?? ''}`);
  return body.secret;
}
