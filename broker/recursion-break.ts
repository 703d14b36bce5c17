/** mqemitter recursion bound, see createRecursionBreak */
const MAX_SYNC_DEPTH = 64;

/**
 * mqemitter 7 drains its queue recursively: released() → _do() → fastparallel, which calls
 * released() again synchronously when a message has no listener left. When a subscriber leaves
 * during a flood, thousands of queued messages suddenly match nothing and the stack overflows
 * (FACTS.md; reproduced in flood.test.ts). A catch-all listener makes every message match at
 * least once and, past MAX_SYNC_DEPTH nested calls, completes on the next turn of the loop.
 */
export function createRecursionBreak(): (packet: unknown, done: () => void) => void {
  let depth = 0;
  return function breakRecursion(_packet, done) {
    if (depth >= MAX_SYNC_DEPTH) {
      setImmediate(done);
      return;
    }
    depth++;
    try {
      done();
    } finally {
      depth--;
    }
  };
}
