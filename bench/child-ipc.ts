import type { ChildProcess } from 'node:child_process';

/**
 * Sends `msg` (if any) to a bench's child process and waits for its next message of `type`,
 * failing after `ms` or when the child exits. `who` names the child in the error.
 */
export function askChild<M extends { type: string }, T extends M['type']>(
  child: ChildProcess, msg: unknown, type: T, ms: number, who: string,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${who}: no '${type}' within ${ms} ms`)), ms);
    const onMsg = (raw: unknown) => {
      const m = raw as M;
      if (m.type === type) done(undefined, m as Extract<M, { type: T }>);
    };
    const onExit = (code: number | null) => done(new Error(`${who} exited (${code})`));
    function done(err?: Error, m?: Extract<M, { type: T }>) {
      clearTimeout(timer);
      child.off('message', onMsg);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    child.on('message', onMsg);
    child.on('exit', onExit);
    if (msg !== undefined) child.send(msg as object);
  });
}
