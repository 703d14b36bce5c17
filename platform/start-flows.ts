import { join } from 'node:path';
import { startNodeRed } from '../flows/run.ts';
import type { StartContext } from './start-context.ts';

/**
 * The committed flows (flows/) fan alerts out to SMS and e-mail. Their `${VAR}`s are handed
 * over here (Node-RED's global environment, flows/run.ts), not through process.env: this
 * broker, Node-RED's service account, the gateways; the optional tokens and recipient as set; the
 * API and the flows' token for an alert's e-mail/SMS recipients (HUEWATCH_API_URL, default this
 * process's API: without either, operators get no e-mail or SMS).
 */
export async function startFlows(c: StartContext, mqttUrl: string, httpUrl: string | undefined): Promise<void> {
  const { config } = c;
  const apiUrl = config.HUEWATCH_API_URL ?? httpUrl;
  if (!apiUrl) c.log.warn('NODERED=1 without an API in this process or HUEWATCH_API_URL: operators get no e-mail or SMS from the flows');
  const nodered = await startNodeRed({
    userDir: join(c.dataDir, 'nodered'),
    log: c.log,
    settings: {
      SMS_GATEWAY_TOKEN: process.env.SMS_GATEWAY_TOKEN,
      EMAIL_API_TOKEN: process.env.EMAIL_API_TOKEN,
      EMAIL_TO: process.env.EMAIL_TO,
      MQTT_URL: mqttUrl,
      MQTT_USER: 'svc-nodered',
      MQTT_PASSWORD: c.secrets.services.nodered,
      SMS_GATEWAY_URL: config.SMS_GATEWAY_URL,
      EMAIL_API_URL: config.EMAIL_API_URL,
      // who wants an alert by e-mail or SMS: asked of the API with the flows' own token (that route only)
      HUEWATCH_API_URL: apiUrl,
      HUEWATCH_API_TOKEN: c.secrets.noderedToken,
    },
  });
  c.onStop(() => nodered.stop());
}
