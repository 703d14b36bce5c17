import { TOPIC_ROOT } from '../contract/topics.ts';
import { authorize, isSubsetFilter, type Action, type Principal } from './acl.ts';

/**
 * The MQTT 3.1.1 conformance profile (MQTT_CONFORMANCE=1, broker/README.md "Conformance profile").
 * Conformance suites (mosquitto's broker tests, Paho's interoperability suite) connect anonymously
 * and publish and subscribe on topics of their own ("TopicA/B", "/TopicA", "qos1/test", "#").
 * In the profile an anonymous client may do that anywhere outside `huewatch/` (the test tree);
 * inside `huewatch/` it is the resident it always is, and nothing else changes.
 */

/** the first level of every topic of ours; the test tree is everything else but `$…` */
const OURS = TOPIC_ROOT.split('/')[0]!;
/** SensorThings API's MQTT tree (api/sta/mqtt.ts STA_MQTT_ROOT): read-only for anonymous clients */
const STA_ROOT = 'v1.1';

/**
 * Refused to subscribers even in the test tree: Paho's interoperability suite checks SUBACK 0x80
 * [MQTT-3.9.3-2] on it (its `nosubscribe_topics`), as mosquitto's test configuration refuses it.
 */
export const NO_SUBSCRIBE_FILTER = 'test/nosubscribe';

/** A well-formed filter: `#` only as the whole last level, `+` only as a whole level [MQTT-4.7.1-2/3]. */
function validFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((l, i) => (l === '#' ? i === levels.length - 1 : l === '+' || (!l.includes('#') && !l.includes('+'))));
}

/**
 * May an anonymous client of the profile publish to this topic or subscribe to this filter in the
 * test tree? A filter whose first level is a wildcard (`#`, `+/C`) is granted too: what reaches it
 * from `huewatch/` is sifted at delivery (`forwardAllowed`), not here.
 */
export function testTreeAllows(action: Action, topicOrFilter: string): boolean {
  // a shared subscription of the test tree, as mosquitto's tests use from 3.1.1 clients too
  const shared = action === 'subscribe' ? /^\$share\/[^/#+]+\/(.+)$/.exec(topicOrFilter) : null;
  if (shared) return testTreeAllows('subscribe', shared[1]!);
  if (topicOrFilter.startsWith('$')) return false; // $SYS is the broker's
  const first = topicOrFilter.split('/')[0]!;
  // v1.1/… is SensorThings' (api/sta/mqtt.ts): the platform's alone to publish on, in the profile too
  if (action === 'publish') return topicOrFilter.length > 0 && !/[#+\u0000]/.test(topicOrFilter) && first !== OURS && first !== STA_ROOT;
  return validFilter(topicOrFilter) && first !== OURS && topicOrFilter !== NO_SUBSCRIBE_FILTER;
}

/** The ACL (acl.ts), widened by the test tree for residents when the profile is on. */
export function authorizeIn(conformance: boolean, principal: Principal, action: Action, topicOrFilter: string, opts: { retain?: boolean } = {}): boolean {
  if (authorize(principal, action, topicOrFilter, opts)) return true;
  return conformance && principal.role === 'resident' && testTreeAllows(action, topicOrFilter);
}

/**
 * May a message on `topic` go to a resident of the profile holding `filters`? A test-tree topic
 * always; a topic of ours only through a filter rooted in `huewatch/` (which the ACL granted), so
 * a test suite's `#` or `+/+` never reads devices' or anyone's messages of ours.
 */
export function forwardAllowed(topic: string, filters: readonly string[]): boolean {
  if (topic.split('/')[0] !== OURS) return true;
  return filters.some((f) => f.split('/')[0] === OURS && isSubsetFilter(topic, f));
}
