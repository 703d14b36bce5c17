import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS, metricLabel } from '../contract/metrics.ts';
import { freePort } from '../store/test-servers.ts';
import { waitFor } from './helpers.ts';
import { launchHuewatch, type HuewatchChild } from './huewatch-child.ts';

/**
 * Issue #14 (1, 5): the console's map is Leaflet, served by the platform itself, with every layer
 * checked in Chromium at a desk's and a phone's size against `huewatch start` with its simulated
 * stations and fishing fleet: each layer has the features the API has, and turning a layer off
 * changes the map's pixels where its features are drawn (a layer that draws nothing, or draws in the
 * wrong place, fails). Screens are compared structurally, not against reference images: fonts and
 * the fleet's positions differ from run to run.
 */
const ARTIFACTS = new URL('../.test-artifacts/console-map/', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const STATE_RGB: Record<string, [number, number, number]> = {
  normal: [0x2e, 0x9e, 0x44], 'level-1': [0xf2, 0xcc, 0x0c], 'level-2': [0xff, 0x78, 0x0a], 'level-3': [0xe0, 0x2f, 0x44], offline: [0x8e, 0x8e, 0x8e],
};
const VESSEL_RGB: [number, number, number] = [0x0b, 0x3d, 0x91];
const STORM_RGB: [number, number, number] = [0x8e, 0x24, 0xaa];
/** a storm area at sea off Tư Hiền, partly inside the first view at both sizes */
const STORM = { id: 'bao-thu', name: 'Bão thử (test storm)', polygon: [[107.8, 16.42], [108.2, 16.42], [108.2, 16.7], [107.8, 16.7], [107.8, 16.42]] as Array<[number, number]> };

/** Runs in a blank page (no CSP): decodes two PNGs, counts the pixels that differ, reads colours at points. */
const ANALYSE = `
globalThis.analyse = async (on, off, points) => {
  const load = async (b64) => {
    const img = await createImageBitmap(await (await fetch('data:image/png;base64,' + b64)).blob());
    const c = new OffscreenCanvas(img.width, img.height);
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    return g.getImageData(0, 0, img.width, img.height);
  };
  const [a, b] = [await load(on), await load(off)];
  let diff = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (Math.max(Math.abs(a.data[i] - b.data[i]), Math.abs(a.data[i + 1] - b.data[i + 1]), Math.abs(a.data[i + 2] - b.data[i + 2])) > 30) diff++;
  }
  const at = (d, [x, y]) => { const i = (Math.round(y) * d.width + Math.round(x)) * 4; return [d.data[i], d.data[i + 1], d.data[i + 2]]; };
  return { diff, size: [a.width, a.height], samples: points.map((p) => ({ on: at(a, p), off: at(b, p) })) };
};`;

type Rgb = [number, number, number];
const near = (a: Rgb, b: Rgb, tol = 14) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

/** In the page: the centre (map-relative) of features that nothing else covers, with what they need to be checked. */
const FEATURES = `(() => {
  const map = document.getElementById('map').getBoundingClientRect();
  const free = (el, x, y) => document.elementFromPoint(x, y)?.closest('.leaflet-marker-icon, path') === el;
  const rel = (x, y) => [x - map.left, y - map.top];
  const out = { stations: [], vessels: [], clusters: [], alerts: [], storms: [] };
  for (const el of document.querySelectorAll('#map [data-station]')) {
    const r = el.querySelector('svg').getBoundingClientRect(); const [x, y] = [r.left + r.width / 2, r.top + r.height / 2];
    if (free(el, x, y)) out.stations.push({ id: el.dataset.station, state: el.dataset.state, at: rel(x, y) });
  }
  for (const el of document.querySelectorAll('[data-vessel].leaflet-marker-icon')) {
    const r = el.querySelector('svg').getBoundingClientRect(); const [x, y] = [r.left + r.width / 2, r.top + r.height / 2];
    if (free(el, x, y)) out.vessels.push({ id: el.dataset.vessel, at: rel(x, y) });
  }
  for (const el of document.querySelectorAll('.vessel-cluster')) {
    const r = el.getBoundingClientRect(); const [x, y] = [r.left + r.width / 2, r.top + r.height / 2 - 10];
    if (free(el, x, y)) out.clusters.push({ count: Number(el.querySelector('[data-count]').dataset.count), at: rel(x, y) });
  }
  for (const el of document.querySelectorAll('[data-alert-key]')) {
    const r = el.getBoundingClientRect(); const [x, y] = [r.left + r.width / 2, r.top + r.height / 2 - 13];
    if (free(el, x, y)) out.alerts.push({ key: el.dataset.alertKey, level: Number(el.dataset.alertLevel), at: rel(x, y) });
  }
  // an area runs off the map's edge or under a control: the first point of a grid where it is on top
  for (const el of document.querySelectorAll('path.storm-area')) {
    const r = el.getBoundingClientRect();
    const at = [];
    for (let i = 1; i < 20 && !at.length; i++) for (let j = 1; j < 20 && !at.length; j++) {
      const [x, y] = [r.left + (r.width * i) / 20, r.top + (r.height * j) / 20];
      if (x > map.left && x < map.right && y > map.top && y < map.bottom && document.elementFromPoint(x, y) === el) at.push(...rel(x, y));
    }
    if (at.length) out.storms.push({ id: el.dataset.storm, at });
  }
  return out;
})()`;

/** In the page: points (map-relative) along each commune's line, inside the map and under no control, marker or label. */
const COMMUNE_POINTS = `(() => {
  const map = document.getElementById('map').getBoundingClientRect();
  const out = [];
  for (const el of document.querySelectorAll('path.commune')) {
    const m = el.getScreenCTM();
    const len = el.getTotalLength();
    for (let i = 0; i < 20; i++) {
      const p = el.getPointAtLength((len * i) / 20);
      const { x, y } = new DOMPoint(p.x, p.y).matrixTransform(m);
      if (x < map.left + 2 || x > map.right - 2 || y < map.top + 2 || y > map.bottom - 2) continue;
      if (document.elementFromPoint(x, y)?.closest('.leaflet-control, .leaflet-marker-icon, .leaflet-tooltip')) continue;
      out.push([x - map.left, y - map.top]);
    }
  }
  return out;
})()`;

interface Features {
  stations: Array<{ id: string; state: string; at: [number, number] }>;
  vessels: Array<{ id: string; at: [number, number] }>;
  clusters: Array<{ count: number; at: [number, number] }>;
  alerts: Array<{ key: string; level: number; at: [number, number] }>;
  storms: Array<{ id: string; at: [number, number] }>;
}

describe('the console map in Chromium, against huewatch start with the simulated fleet', () => {
  let hw: HuewatchChild;
  let url: string;
  let tokens: { viewer: string; operator: string };
  let browser: Browser;
  let lab: Page;

  const api = async (path: string, token?: string, init: RequestInit = {}) => {
    const res = await fetch(url + path, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) } });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    // the simulator on (the default) sails the 8 vessels of config/vessels.yaml and reports every station
    hw = await launchHuewatch({ env: { SIM: undefined, MQTT_PORT: String(await freePort()), SIM_INTERVAL_MS: '1000' } });
    expect(await hw.ready, hw.output()).toBe('banner');
    url = hw.httpUrl;
    const s = await hw.secrets();
    tokens = { viewer: s.viewerToken, operator: s.operatorToken };
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 });
    lab = await browser.newPage();
    await lab.addScriptTag({ content: ANALYSE });
    // every vessel of the register has a position, and a storm area is in force
    await waitFor(async () => (await api('/api/v1/vessels', tokens.viewer)).body.count === 8, 60_000, 'the 8 simulated vessels in the API');
    const declared = await api('/api/v1/storm-areas', tokens.operator, {
      method: 'POST',
      body: JSON.stringify({ ...STORM, validFrom: new Date(Date.now() - 60_000).toISOString(), validTo: new Date(Date.now() + 6 * 3600_000).toISOString() }),
    });
    expect(declared.status, JSON.stringify(declared.body)).toBe(201);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await hw?.stop();
  });

  /** A page of the console at this size, in a browser whose own time zone is UTC, logged in as a viewer. */
  async function open(width: number, height: number): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext({ viewport: { width, height }, timezoneId: 'UTC', locale: 'vi-VN' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(url + '/');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 45_000 });
    // logged out, the vessel layer says why it is empty (its request is refused: 401)
    expect(await page.getAttribute('#vessel-note', 'data-vessels')).toBe('0');
    expect(await page.textContent('#vessel-note')).toContain('Đăng nhập để xem tàu cá');
    await page.fill('#token', tokens.viewer);
    await page.click('#login-btn');
    await page.waitForSelector('#vessel-note[data-vessels="8"]');
    await page.waitForSelector('path.storm-area');
    // the layer switch is folded on a phone: open it as a user would
    if (!(await page.locator('.layer-toggle input[data-layer="stations"]').isVisible())) await page.click('.layer-toggle summary');
    return { ctx, page };
  }

  const shoot = async (page: Page, name?: string) => {
    const box = (await page.locator('#map').boundingBox())!;
    const png = await page.screenshot({ clip: box, animations: 'disabled', ...(name ? { path: join(ARTIFACTS, `${name}.png`) } : {}) });
    return png.toString('base64');
  };

  /** The map with the layer on and off: how many pixels change, and the colours at the points either way. */
  async function toggle(page: Page, layer: string, points: Array<[number, number]>, tag: string) {
    const on = await shoot(page, `${tag}-${layer}-on`);
    await page.uncheck(`.layer-toggle input[data-layer="${layer}"]`);
    await page.waitForTimeout(300); // Leaflet removes the layer at once; let the frame paint
    const off = await shoot(page, `${tag}-${layer}-off`);
    await page.check(`.layer-toggle input[data-layer="${layer}"]`);
    await page.waitForTimeout(300);
    return (await lab.evaluate(([a, b, p]) => (globalThis as any).analyse(a, b, p), [on, off, points] as const)) as { diff: number; samples: Array<{ on: Rgb; off: Rgb }> };
  }

  async function checkLayers(width: number, height: number, tag: string) {
    const { ctx, page } = await open(width, height);
    try {
      // stations: every one of the catalogue, each coloured by its state where it is drawn
      const { body: st } = await api('/api/v1/stations');
      expect((await page.$$eval('#map [data-station]', (els) => els.map((e) => e.getAttribute('data-station')))).sort()).toEqual(st.stations.map((s: { id: string }) => s.id).sort());
      // the map is Leaflet from this platform, with the real coast and the sea zones
      expect(await page.locator('.leaflet-container').count()).toBe(1);
      expect(await page.locator('path.coastline').count()).toBe(1);
      expect(await page.locator('path.zone').count()).toBeGreaterThanOrEqual(3);
      expect(await page.locator('img.leaflet-tile').count(), 'no tiles unless CONSOLE_TILE_URL is set').toBe(0);

      let f = (await page.evaluate(FEATURES)) as Features;
      expect(f.stations.length, 'stations with nothing over their centre').toBeGreaterThanOrEqual(5);
      let t = await toggle(page, 'stations', f.stations.map((s) => s.at), tag);
      expect(t.diff).toBeGreaterThan(f.stations.length * 40);
      // the fleet is live: a station may change state between the look and the screenshot
      const after = new Map(((await page.evaluate(FEATURES)) as Features).stations.map((s) => [s.id, s.state]));
      f.stations.forEach((s, i) => {
        const states = [s.state, after.get(s.id) ?? s.state];
        expect(states.some((x) => near(t.samples[i]!.on, STATE_RGB[x]!)), `${s.id} drawn ${states} at ${s.at}: ${t.samples[i]!.on}`).toBe(true);
        expect(near(t.samples[i]!.off, t.samples[i]!.on, 4), `${s.id} gone when the layer is off`).toBe(false);
      });

      // vessels: as many on the map (markers and clusters) as the API lists, each drawn in the vessel colour
      const { body: vs } = await api('/api/v1/vessels', tokens.viewer);
      f = (await page.evaluate(FEATURES)) as Features;
      const drawn = (await page.locator('.leaflet-marker-icon[data-vessel]').count()) + (await page.$$eval('.vessel-cluster [data-count]', (els) => els.reduce((n, e) => n + Number(e.getAttribute('data-count')), 0)));
      expect(drawn).toBe(vs.count);
      const vesselPoints = [...f.vessels.map((v) => v.at), ...f.clusters.map((c) => c.at)];
      expect(vesselPoints.length).toBeGreaterThan(0);
      t = await toggle(page, 'vessels', vesselPoints, tag);
      expect(t.diff).toBeGreaterThan(150);
      for (const s of t.samples) {
        expect(near(s.on, VESSEL_RGB), `a vessel's colour: ${s.on}`).toBe(true);
        expect(near(s.off, VESSEL_RGB), 'no vessel there with the layer off').toBe(false);
      }
      // each vessel points along its heading
      const headings = await page.$$eval('.leaflet-marker-icon[data-vessel] svg', (els) => els.map((e) => (e as unknown as { style: { transform: string } }).style.transform));
      for (const h of headings) expect(h).toMatch(/^rotate\(-?\d+(\.\d+)?deg\)$/);

      // storm areas: the one declared through the API, purple over the sea
      const { body: storms } = await api('/api/v1/storm-areas', tokens.viewer);
      expect(storms.areas.map((a: { id: string }) => a.id)).toEqual([STORM.id]);
      expect(await page.getAttribute('path.storm-area', 'data-storm')).toBe(STORM.id);
      expect(f.storms.map((s) => s.id)).toEqual([STORM.id]);
      t = await toggle(page, 'storms', f.storms.map((s) => s.at), tag);
      expect(t.diff).toBeGreaterThan(2000);
      const [storm] = t.samples;
      // the storm's fill (30 % of its purple) over whatever lies beneath
      const blend = storm!.off.map((v, i) => Math.round(v * 0.7 + STORM_RGB[i]! * 0.3)) as Rgb;
      expect(near(storm!.on, blend, 12), `storm fill ${storm!.on}, expected ${blend} over ${storm!.off}`).toBe(true);
      expect(near(storm!.on, storm!.off, 10)).toBe(false);

      // alerts: one ring per open alert with a place, in its level's colour
      const { body: al } = await api('/api/v1/alerts?status=active,acknowledged');
      const stationIds = new Set(st.stations.map((s: { id: string }) => s.id));
      const placed = al.alerts.filter((a: { source?: { station: string }; area: { circle?: unknown; polygon?: unknown } }) => stationIds.has(a.source?.station) || a.area.circle || a.area.polygon);
      await waitFor(async () => (await page.locator('[data-alert-key]').count()) >= placed.length, 20_000, 'an alert ring for each placed alert');
      if (placed.length > 0) {
        f = (await page.evaluate(FEATURES)) as Features;
        expect(f.alerts.length).toBeGreaterThan(0);
        t = await toggle(page, 'alerts', f.alerts.map((a) => a.at), tag);
        expect(t.diff).toBeGreaterThan(f.alerts.length * 30);
        f.alerts.forEach((a, i) => expect(near(t.samples[i]!.on, STATE_RGB[`level-${Math.min(Math.max(a.level, 1), 3)}`]!), `${a.key} ring: ${t.samples[i]!.on}`).toBe(true));
      }

      // the sea zones and the fishing boundary
      t = await toggle(page, 'zones', [], tag);
      expect(t.diff).toBeGreaterThan(2000);

      // the districts (before 2025) and, under them in thin lines, the 40 communes and wards of 2025
      // (config/geo/): every feature drawn and named, both layers over the same ground
      const { body: districts } = await api('/console-data/districts.geojson');
      const { body: communes } = await api('/console-data/communes.geojson');
      expect(communes.features.length).toBe(40);
      expect(await page.locator('path.district').count()).toBe(districts.features.length);
      const communeNames = await page.$$eval('path.commune', (els) => els.map((e) => e.getAttribute('data-commune')));
      expect(communeNames.sort()).toEqual(communes.features.map((c: { properties: { name: string } }) => c.properties.name).sort());
      expect(communeNames).toContain('Phường Phú Xuân');
      const extent = (sel: string) => page.$$eval(sel, (els) => {
        const r = els.map((e) => e.getBoundingClientRect());
        return [Math.min(...r.map((x) => x.left)), Math.min(...r.map((x) => x.top)), Math.max(...r.map((x) => x.right)), Math.max(...r.map((x) => x.bottom))];
      });
      const [d, c] = [await extent('path.district'), await extent('path.commune')];
      const span = Math.max(d[2]! - d[0]!, d[3]! - d[1]!);
      c.forEach((v, i) => expect(Math.abs(v - d[i]!), `communes ${c} over districts ${d}`).toBeLessThan(span * 0.05));
      // points along the communes' lines where no control or marker covers them: most change with the
      // layer (about 55 % at both sizes; the rest lie under a district's line, a label or a zone's
      // edge). The whole map's pixel count would not do: the layer's credit changes the attribution
      const onLines = (await page.evaluate(COMMUNE_POINTS)) as Array<[number, number]>;
      expect(onLines.length).toBeGreaterThan(100);
      t = await toggle(page, 'communes', onLines, tag);
      const changed = t.samples.filter((s) => !near(s.on, s.off, 20)).length;
      expect(changed, `${changed} of ${onLines.length} points on the communes' lines change`).toBeGreaterThan(onLines.length * 0.3);
      await shoot(page, `${tag}-map`);
      return { ctx, page, placed: placed.length };
    } catch (err) {
      await shoot(page, `${tag}-failed`).catch(() => undefined);
      await ctx.close();
      throw err;
    }
  }

  it('at a desk (1280×800): stations, vessels, the storm area and alerts each drawn where they are, a vessel\'s track on a click', async () => {
    const { ctx, page } = await checkLayers(1280, 800, 'desk');
    try {
      // zoom in (clusters open as a user clicks them) until a vessel stands alone, then click it: its track
      for (let i = 0; i < 6 && (await page.locator('.leaflet-marker-icon[data-vessel]').count()) === 0; i++) {
        await page.click('.vessel-cluster');
        await page.waitForTimeout(800);
      }
      const vessel = page.locator('.leaflet-marker-icon[data-vessel]').first();
      const id = (await vessel.getAttribute('data-vessel'))!;
      // the simulated fleet moves while Playwright waits for a still target: click where it is now
      await vessel.dispatchEvent('click');
      // a vessel that has not moved yet has a track of one point: drawn, of zero length
      await page.waitForSelector(`path.track[data-vessel="${id}"]`, { state: 'attached' });
      const { body: track } = await api(`/api/v1/vessels/${id}/track`, tokens.viewer);
      expect(track.geometry.type).toBe('LineString');
      await shoot(page, 'desk-track');
    } finally {
      await ctx.close();
    }
  }, 240_000);

  it('on a phone (390×844): the same layers, each checked the same way', async () => {
    const { ctx, page } = await checkLayers(390, 844, 'phone');
    try {
      // the map fills the phone's width and is the first thing on the page
      const box = (await page.locator('#map').boundingBox())!;
      expect(box.width).toBeGreaterThan(340);
      expect(box.width).toBeLessThanOrEqual(390);
    } finally {
      await ctx.close();
    }
  }, 240_000);

  it('speaks to people: metric names and units in Vietnamese with English beside, times in Vietnam time in a UTC browser', async () => {
    const { ctx, page } = await open(1280, 800);
    try {
      expect(await page.evaluate('new Date().getTimezoneOffset()')).toBe(0); // the browser's own zone is UTC
      // the console's metric table is the catalogue's
      const { body: table } = await api('/console-data/metrics.json');
      expect(Object.keys(table).sort()).toEqual(Object.keys(METRICS).sort());
      expect(table.pm25).toEqual({ vi: 'bụi PM2.5', en: 'PM2.5', unit: 'µg/m³' });
      // the chart of the selected river station
      await page.waitForSelector('#chart [data-points]');
      expect(await page.textContent('#chart-title')).toContain(metricLabel('water_level'));
      expect(metricLabel('water_level')).toBe('Mực nước (Water level), m');
      // alerts name their metric in words, never by id, with the time in UTC+7
      await waitFor(async () => (await page.locator('#alerts li time').count()) > 0, 60_000, 'an alert in the list');
      const ids = Object.keys(METRICS);
      for (const meta of await page.$$eval('#alerts li .meta', (els) => els.map((e) => e.textContent ?? ''))) {
        for (const id of ids) expect(meta).not.toMatch(new RegExp(`\\b${id}\\b`));
      }
      const first = page.locator('#alerts li time').first();
      const iso = (await first.getAttribute('datetime'))!;
      const vn = new Intl.DateTimeFormat('vi-VN', { timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date(iso));
      const utc = new Intl.DateTimeFormat('vi-VN', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date(iso));
      expect(await first.textContent()).toBe(`${vn} (UTC+7)`);
      expect(vn).not.toBe(utc);
      // the hour shown is the UTC hour plus 7
      const hourShown = Number(/(\d{2}):\d{2}/.exec(vn)![1]);
      expect(hourShown).toBe((new Date(iso).getUTCHours() + 7) % 24);
      // the layer switch and the legend are Vietnamese first, English beside
      const toggles = await page.$$eval('.layer-toggle label', (els) => els.map((e) => (e.textContent ?? '').trim()));
      for (const t of toggles) expect(t).toMatch(/^[^()]+ \([A-Z][^()]+\)$/);
    } finally {
      await ctx.close();
    }
  }, 240_000);
});

describe('CONSOLE_TILE_URL', () => {
  let tiles: Server;
  let asked = 0;
  let hw: HuewatchChild;

  beforeAll(async () => {
    // a tile server on this machine: every tile a plain grey square
    tiles = createServer((_req, res) => {
      asked++;
      res.writeHead(200, { 'content-type': 'image/svg+xml', 'access-control-allow-origin': '*' });
      res.end('<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><rect width="256" height="256" fill="#c8c8c8"/></svg>');
    });
    await new Promise<void>((r) => tiles.listen(0, '127.0.0.1', r));
    const port = (tiles.address() as AddressInfo).port;
    hw = await launchHuewatch({ env: { CONSOLE_TILE_URL: `http://127.0.0.1:${port}/{z}/{x}/{y}.svg` } });
    expect(await hw.ready, hw.output()).toBe('banner');
  }, 240_000);

  afterAll(async () => {
    await hw?.stop();
    await new Promise((r) => tiles?.close(r));
  });

  it('draws the deployment\'s tiles under the map, and none without it', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(hw.httpUrl + '/');
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
      await waitFor(async () => (await page.$$eval('img.leaflet-tile-loaded', (els) => els.length)) > 0, 20_000, 'a tile loaded');
      expect(asked).toBeGreaterThan(0);
      // the land stays drawn over the tiles, see-through
      expect(await page.locator('path.coastline').count()).toBe(1);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
