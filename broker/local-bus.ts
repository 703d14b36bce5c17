import { EventEmitter } from 'node:events';
import type { Aedes, AedesPublishPacket, PublishPacket } from 'aedes';
import type { Bus, BusMessageListener, BusPublishOptions } from '../contract/bus.ts';

type Deliver = (packet: AedesPublishPacket, done: () => void) => void;

/**
 * A Bus over the broker's in-process publish/subscribe API, for the services that share the
 * broker's process (DESIGN.md: "Inside one process they use the broker's in-process
 * publish/subscribe, not loopback TCP"). What it publishes reaches every MQTT subscriber on the
 * wire as if a client had sent it (retained included); what it subscribes to arrives without a
 * socket, a parser or a PUBACK. The services are trusted here: there is no ACL on this side, as
 * there is none for the broker's own $SYS messages. A subscription first hands on the retained
 * messages that match, as MQTT does on SUBSCRIBE [MQTT-3.3.1-6].
 */
export function createLocalBus(aedes: Aedes): Bus & { close(): Promise<void> } {
  const events = new EventEmitter<{ message: [string, Buffer, { retain: boolean }]; connect: [] }>();
  events.setMaxListeners(0);
  const delivers = new Map<string, Deliver>();
  let closed = false;

  const emit = (topic: string, payload: Buffer | string, retain = false) => {
    const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
    // one listener's throw must not stop the broker's routing of this message to others
    try {
      events.emit('message', topic, buf, { retain });
    } catch (err) {
      queueMicrotask(() => { throw err; });
    }
  };

  return {
    get connected() {
      return !closed;
    },
    publishAsync(topic: string, payload: string | Buffer, opts: BusPublishOptions = {}) {
      const packet = {
        cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
        qos: opts.qos ?? 0, retain: opts.retain ?? false, dup: false,
      } as PublishPacket;
      return new Promise<void>((resolve, reject) => aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
    },
    async subscribeAsync(filter: string, opts: { qos: 0 | 1 }) {
      if (!delivers.has(filter)) {
        const deliver: Deliver = (packet, done) => {
          // aedes hands every subscriber the same packet: payload is a Buffer from the wire or ours
          if (!closed) emit(packet.topic, packet.payload as Buffer);
          done();
        };
        delivers.set(filter, deliver);
        await new Promise<void>((resolve) => aedes.subscribe(filter, deliver, resolve));
        for await (const retained of retainedMatching(aedes, filter)) {
          if (!closed) emit(retained.topic, retained.payload as Buffer, true);
        }
      }
      return [{ topic: filter, qos: opts.qos }];
    },
    async unsubscribeAsync(filter: string) {
      const deliver = delivers.get(filter);
      if (!deliver) return;
      delivers.delete(filter);
      await new Promise<void>((resolve) => aedes.unsubscribe(filter, deliver, resolve));
    },
    on(event: 'message' | 'connect', listener: BusMessageListener | (() => void)) {
      events.on(event, listener as () => void);
      return this;
    },
    off(event: 'message' | 'connect', listener: BusMessageListener | (() => void)) {
      events.off(event, listener as () => void);
      return this;
    },
    async close() {
      closed = true;
      for (const f of [...delivers.keys()]) await this.unsubscribeAsync(f);
      events.removeAllListeners();
    },
  };
}

/** aedes keeps retained messages in its persistence, which its typings leave untyped */
function retainedMatching(aedes: Aedes, filter: string): AsyncIterable<AedesPublishPacket> {
  const persistence = (aedes as unknown as { persistence: { createRetainedStreamCombi(patterns: string[]): AsyncIterable<AedesPublishPacket> } }).persistence;
  return persistence.createRetainedStreamCombi([filter]);
}
