// The residents' service worker (scope /resident.html; served with Service-Worker-Allowed: /).
// - push: shows the alert the platform pushed (delivery/webpush.ts pushPayload), already in the
//   language the resident chose, as a notification;
// - notificationclick: opens (or focuses) the residents' page for the alert's area;
// - the page's shell and its last answers are kept, so the page opens without a network and shows
//   the alerts as last loaded. Network first: a platform that answers is always what is shown.
const CACHE = 'huewatch-resident-v1';
const SHELL = [
  '/resident.html',
  '/console/resident.js',
  '/console/api.js',
  '/console/style.css',
  '/console/resident.css',
  '/console/resident.webmanifest',
  '/console/resident-icon.svg',
  '/console/resident-icon-192.png',
  '/console/resident-icon-512.png',
  '/console/resident-badge-96.png',
];
/** API answers the page needs to draw itself, kept from the last time they were fetched */
const DATA = ['/api/v1/push/choices', '/api/v1/alerts', '/api/v1/stations'];
/** the page's own requests of them (resident.js), fetched at install so a first visit already opens offline */
const DATA_AT_INSTALL = ['/api/v1/push/choices', '/api/v1/alerts?status=active,acknowledged'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll([...SHELL, ...DATA_AT_INSTALL])).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  // the page's own files and whatever else of /console/ it loads (scripts and the map library others add)
  const shell = SHELL.includes(url.pathname) || url.pathname.startsWith('/console/');
  const data = DATA.includes(url.pathname);
  if (!shell && !data) return; // the live stream and everything else: the network, untouched
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    // the page is one document whatever its ?area=…; the data, one answer per query
    const key = shell ? url.pathname : url.pathname + url.search;
    try {
      const res = await fetch(event.request);
      if (res.ok) await cache.put(key, res.clone());
      return res;
    } catch (err) {
      const held = await cache.match(key);
      if (!held) throw err;
      if (!data) return held;
      // tell the page it is reading an old answer
      const body = await held.json();
      return new Response(JSON.stringify({ ...body, offline: true }), { headers: { 'content-type': 'application/json; charset=utf-8' } });
    }
  })());
});

self.addEventListener('push', (event) => {
  let alert;
  try {
    alert = event.data.json();
  } catch {
    alert = { headline: event.data?.text() ?? 'HueWatch', lang: 'vi' };
  }
  const cancelled = alert.type === 'Cancel';
  const title = alert.headline ?? 'HueWatch';
  const body = [alert.event, alert.instruction].filter(Boolean).join(' — ');
  event.waitUntil(self.registration.showNotification(title, {
    body,
    lang: alert.lang ?? 'vi',
    // one notification per alert: an Update or the Cancel replaces the one shown
    tag: alert.id ?? undefined,
    renotify: Boolean(alert.id) && !cancelled,
    requireInteraction: alert.severity === 'Extreme',
    icon: '/console/resident-icon-192.png',
    // a silhouette for the status bar (Android draws it in one colour). Not the icon's URL: with
    // both the same, headless Chromium held the notification back until something else loaded it
    badge: '/console/resident-badge-96.png',
    timestamp: alert.sent ? Date.parse(alert.sent) : Date.now(),
    data: { url: `/resident.html?area=${encodeURIComponent(alert.areas?.[0] ?? '')}&lang=${alert.lang ?? 'vi'}`, id: alert.id },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url ?? '/resident.html', self.location.origin).href;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const page = open.find((c) => new URL(c.url).pathname === '/resident.html');
    if (page) {
      await page.focus();
      return page.navigate(url).catch(() => page);
    }
    return self.clients.openWindow(url);
  })());
});
