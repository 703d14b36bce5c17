/**
 * Password checks (scrypt, on libuv's threadpool of 4) run a few at a time, taken in turn from
 * each client address: 1,000 guesses from one address wait behind each other, not in front of a
 * real device's login from another. Past `perAddress` checks of one address, a check is refused
 * at once (the caller answers CONNACK 3) instead of queued; past `maxPending` in all, a newcomer
 * takes the place of the last waiting check of the address with the most waiting (that one is
 * refused), or is refused itself when every address has its fair share. So a flood of CONNECTs
 * costs the flooder, memory stays bounded, and a real device waits for at most about
 * `maxPending / concurrency` checks.
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
  const waiting = new Map<string, Job[]>(); // Map order is the round-robin order of addresses
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
    while (running < opts.concurrency && waiting.size > 0) {
      const [address, jobs] = waiting.entries().next().value as [string, Job[]];
      const job = jobs.shift()!;
      waiting.delete(address);
      if (jobs.length > 0) waiting.set(address, jobs); // to the back of the line
      running++;
      job.start();
    }
  }

  /** room for one more check from `address`: refuses the last waiting one of the address with the most waiting, if it has more than `address` would */
  function makeRoom(address: string): boolean {
    const mine = waiting.get(address)?.length ?? 0;
    let victim: Job[] | undefined;
    let victimAddress = '';
    for (const [a, jobs] of waiting) {
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
        const jobs = waiting.get(address);
        if (jobs) jobs.push(job);
        else waiting.set(address, [job]);
        next();
      });
    },
  };
}
