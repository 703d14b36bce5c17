/**
 * The publish/subscribe seam every service talks through (DESIGN.md "The flow"): between
 * processes it is an MQTT.js client on the wire; within one process it is the broker's own
 * in-process API (broker/local-bus.ts), so services that share a process never cross loopback TCP.
 * MQTT.js' `MqttClient` satisfies this interface as it is.
 */
export interface BusPublishOptions {
  qos?: 0 | 1;
  retain?: boolean;
}

/** `packet.retain`: a retained message handed over on subscribing (MQTT.js passes its packet; so does the local bus) */
export type BusMessageListener = (topic: string, payload: Buffer, packet?: { retain?: boolean }) => void;

export interface Bus {
  /** false while an MQTT connection is down; a local bus is always connected */
  readonly connected: boolean;
  /** resolves when the broker has taken the message (PUBACK on the wire, routed in process) */
  publishAsync(topic: string, payload: string | Buffer, opts?: BusPublishOptions): Promise<unknown>;
  /** granted QoS per filter; 128 = refused by the broker's ACL [MQTT-3.9.3] */
  subscribeAsync(filter: string, opts: { qos: 0 | 1 }): Promise<ReadonlyArray<{ topic: string; qos: number }>>;
  unsubscribeAsync(filter: string): Promise<unknown>;
  on(event: 'message', listener: BusMessageListener): unknown;
  /** each (re)connection: a service re-publishes its retained state here (a restarted broker forgot it) */
  on(event: 'connect', listener: () => void): unknown;
  off(event: 'message', listener: BusMessageListener): unknown;
  off(event: 'connect', listener: () => void): unknown;
}
