/**
 * The broker in the MQTT 3.1.1 conformance profile on a given port, for the external suites
 * (run-mosquitto-tests.sh, run-paho-tests.sh): `node --import tsx broker/suites/conformance-broker.ts PORT`.
 * A real broker (broker/test-harness.ts, in-memory registry) with MQTT_CONFORMANCE's rules; it
 * starts in about a second, as mosquitto's test runner expects of the broker it launches.
 */
import { startHarness } from '../test-harness.ts';

const port = Number(process.argv[2] ?? 1888);
if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`port: 1..65535, not ${process.argv[2]}`);
const h = await startHarness([], { conformance: true, port, wsPort: undefined });
console.log('listening', h.mqttUrl);
const stop = () => void h.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
