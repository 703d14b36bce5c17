/**
 * Password checks (scrypt, on libuv's threadpool of 4) run a few at a time, taken in turn from
 * each client address: 1,000 guesses from one address wait behind each other, not in front of a
 * real device's login from another. As in fq_codel's new-flow list (RFC 8290 §4.1), an address
 * with no check waiting or running goes ahead of those already in line, for its first check: a
 * device logging in once waits for the checks running, not for a turn of every guesser. Past
 * `perAddress` checks of one address, a check is refused at once (the caller answers CONNACK 3)
 * instead of queued; past `maxPending` in all, a newcomer takes the place of the last waiting
 * check of the address with the most waiting (that one is refused), or is refused itself when
 * every address has its fair share. So a flood of CONNECTs costs the flooder, memory stays
 * bounded, and a real device waits for at most about `maxPending / concurrency` checks.
 */
export interface VerifyQueueOptions {
  /** checks running at once; below the threadpool's 4 so DNS, file and other crypto work still get a thread */
  concurrency: number;
  /** checks of one address waiting or running */
  perAddress: number;
  /** checks waiting or running in all */
  maxPending: number;
}

export interface VerifyQueue {
  /** runs `task` in its address's turn; resolves undefined when refused (too many waiting) */
  run<T>(address: string, task: () => Promise<T>): Promise<T | undefined>;
  readonly pending: number;
}

interface Job {
  start(): void;
  refuse(): void;
}

export function createVerifyQueue(opts: VerifyQueueOptions): VerifyQueue {
  // Map order is each line's order: first checks of idle addresses, then the round robin of the rest
  const fresh = new Map<string, Job[]>();
  const waiting = new Map<string, Job[]>();
  const perAddress = new Map<string, number>(); // waiting or running
  let running = 0;
  let pending = 0;

  const release = (address: string) => {
    pending--;
    const left = (perAddress.get(address) ?? 1) - 1;
    if (left === 0) perAddress.delete(address);
    else perAddress.set(address, left);
  };

  function next(): void {
    while (running < opts.concurrency && (fresh.size > 0 || waiting.size > 0)) {
      const line = fresh.size > 0 ? fresh : waiting;
      const [address, jobs] = line.entries().next().value as [string, Job[]];
      const job = jobs.shift()!;
      line.delete(address);
      if (jobs.length > 0) waiting.set(address, jobs); // to the back of the round robin
      running++;
      job.start();
    }
  }

  /** room for one more check from `address`: refuses the last waiting one of the address with the most waiting, if it has more than `address` would */
  function makeRoom(address: string): boolean {
    const mine = (fresh.get(address) ?? waiting.get(address))?.length ?? 0;
    let victim: Job[] | undefined;
    let victimAddress = '';
    for (const [a, jobs] of [...fresh, ...waiting]) {
      if (jobs.length > mine + 1 && (!victim || jobs.length > victim.length)) {
        victim = jobs;
        victimAddress = a;
      }
    }
    if (!victim) return false;
    victim.pop()!.refuse();
    release(victimAddress);
    return true;
  }

  return {
    get pending() {
      return pending;
    },
    run<T>(address: string, task: () => Promise<T>): Promise<T | undefined> {
      if ((perAddress.get(address) ?? 0) >= opts.perAddress) return Promise.resolve(undefined);
      if (pending >= opts.maxPending && !makeRoom(address)) return Promise.resolve(undefined);
      const idle = !perAddress.has(address);
      perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
      pending++;
      return new Promise<T | undefined>((resolve, reject) => {
        const job: Job = {
          start: () => {
            task().then(resolve, reject).finally(() => {
              running--;
              release(address);
              next();
            });
          },
          refuse: () => resolve(undefined),
        };
        const jobs = fresh.get(address) ?? waiting.get(address);
        if (jobs) jobs.push(job);
        else (idle ? fresh : waiting).set(address, [job]);
        next();
      });
    },
  };
}
