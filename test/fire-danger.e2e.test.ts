import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEvent, type AlertEvent } from '../contract/index.ts';
import { collect, connectClient, tempDir, waitFor } from './helpers.ts';
import { startHuewatch, type HuewatchChild } from './huewatch-child.ts';

const CHROMIUM = '/usr/bin/chromium';
const KEY = 'forest-fire-danger:ws-a-luoi';

/**
 * Forest-fire danger end to end (#15.2), driven as a technician would: `huewatch start` with the
 * simulator's dry season (SIM_SCENARIO=dry-season). The forested districts' weather stations upload
 * a dry spell's logger memory a day at a time, then report hot, dry afternoons; the rules read the
 * Nesterov index from the store and an anonymous resident's MQTT client receives level IV, then V,
 * in Vietnamese and English. The API and the console show the level per district, and a restart on
 * the same data folder gives the same index without raising the alert again.
 * The shipped rule file is used with one change: the index is read every second, not every minute.
 */
describe('forest-fire danger on the running platform', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let rulesFile: string;
  let h: HuewatchChild;
  let resident: MqttClient;
  let seen: ReturnType<typeof collect>;
  const fireAlerts = () => seen.filter((m) => !m.retain).map((m) => alertEvent.parse(JSON.parse(m.payload))).filter((a) => a.key === KEY);

  beforeAll(async () => {
    data = await tempDir('huewatch-fire-');
    const shipped = await readFile(new URL('../config/rules.yaml', import.meta.url), 'utf8');
    const fast = shipped.replace('    category: Fire\n    radiusKm: 15\n', '    category: Fire\n    radiusKm: 15\n    every: 1s\n');
    expect(fast).not.toBe(shipped);
    rulesFile = join(data.dir, 'rules.yaml');
    await writeFile(rulesFile, fast);
    h = await startHuewatch({ dataDir: join(data.dir, 'data'), env: { SIM: '1', SIM_SCENARIO: 'dry-season', SIM_INTERVAL_MS: '500', RULES_FILE: rulesFile } });
    resident = await connectClient(h.mqttUrl, { clientId: 'resident-fire' });
    seen = collect(resident);
    const [granted] = await resident.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
    expect(granted?.qos).toBe(1);
  }, 120_000);

  afterAll(async () => {
    await resident?.endAsync(true);
    await h?.stop();
    await data?.cleanup();
  });

  it('raises level IV for A Lưới district as the dry spell is uploaded, then updates it to level V', async () => {
    const v = await waitFor(() => fireAlerts().find((a) => a.level === 5), 90_000, 'a level V forest-fire alert');
    const alerts = fireAlerts();
    expect(alerts.map((a) => `${a.msgType} L${a.level}`)).toEqual(['Alert L4', 'Update L5']);
    const iv: AlertEvent = alerts[0]!;
    expect(iv).toMatchObject({ category: 'Fire', severity: 'Severe', certainty: 'Likely', levelName: { vi: 'Cấp IV – nguy hiểm', en: 'Level IV – dangerous' } });
    expect(v).toMatchObject({ severity: 'Extreme', id: iv.id, area: { name: { vi: 'Huyện A Lưới' } } });
    expect(v.headline.vi).toBe('Nguy cơ cháy rừng: Cấp V – cực kỳ nguy hiểm tại Huyện A Lưới');
    expect(v.headline.en).toBe('Forest fire danger: Level V – extremely dangerous in Huyện A Lưới');
    expect(v.instruction.vi).toContain('114');
  }, 100_000);

  it('shows the level of every forested district in the API and the console, to anyone', async () => {
    const districts = await waitFor(async () => {
      const r = (await (await fetch(`${h.httpUrl}/api/v1/fire-danger`)).json()) as { districts: Array<{ station: string; district: string; level: number; p: number }> };
      return r.districts.length === 4 && r.districts.every((d) => d.level === 5) && r.districts;
    }, 60_000, 'level V in every district');
    expect(districts.map((d) => d.district).sort()).toEqual(['Huyện A Lưới', 'Huyện Nam Đông', 'Huyện Phong Điền', 'Huyện Phú Lộc']);
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'], timeout: 30_000 });
    try {
      const page = await browser.newPage();
      await page.goto(h.httpUrl + '/');
      const row = page.locator('#fire tr[data-station="ws-a-luoi"]');
      await row.waitFor({ timeout: 20_000 });
      expect(await row.getAttribute('data-level')).toBe('5');
      expect(await row.textContent()).toContain('Cấp V – cực kỳ nguy hiểm');
    } finally {
      await browser.close();
    }
  }, 90_000);

  it('reads the same index after a restart on the same data, and does not raise the alert again', async () => {
    type Index = { districts: Array<{ station: string; days: Array<{ date: string; p: number; t13?: number }> }> };
    // every station's logger has uploaded its whole memory: yesterday's 13:00 is in for each
    const before = await waitFor(async () => {
      const r = (await (await fetch(`${h.httpUrl}/api/v1/fire-danger`)).json()) as Index;
      return r.districts.every((d) => d.days.at(-2)?.t13 !== undefined) && r;
    }, 60_000, 'every logger uploaded to yesterday');
    expect(await h.stop('SIGTERM')).toBe(0);
    await resident.endAsync(true);
    h = await startHuewatch({ dataDir: join(data.dir, 'data'), env: { SIM: '0', RULES_FILE: rulesFile } });
    resident = await connectClient(h.mqttUrl, { clientId: 'resident-fire-2' });
    seen = collect(resident);
    await resident.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
    const after = (await (await fetch(`${h.httpUrl}/api/v1/fire-danger`)).json()) as Index;
    // whole days past are the same (today's own term counts from 14:00 Vietnam time)
    const past = (x: Index) => x.districts.map((d) => ({ station: d.station, days: d.days.slice(0, -1) }));
    expect(past(after)).toEqual(past(before));
    // the alert in force is there for a new subscriber, retained, still level V
    const retained = await waitFor(() => seen.find((m) => m.retain && JSON.parse(m.payload).key === KEY), 10_000, 'the retained alert');
    expect(JSON.parse(retained.payload)).toMatchObject({ level: 5 });
    await new Promise((r) => setTimeout(r, 3_000)); // past a few index reads
    expect(fireAlerts()).toEqual([]);
  }, 120_000);
});
