// reissue(): a request interrupted by a service's restart is issued again once it is back
// (with the caller's pages lent again first); the request's own errors pass straight through.
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../kernel/errors.ts';
import { reissue } from '../../kernel/isolated/reissue.ts';
import type { Timers } from '../../kernel/service.ts';

const timers: Timers = { setTimeout: (fn) => (setImmediate(fn), 0), clearTimeout: () => {} };

function scripted(outcomes: (string | number)[]) {
  let i = 0;
  return async () => {
    const o = outcomes[i++];
    if (typeof o === 'string') throw new ServiceError(o, o);
    return o;
  };
}

describe('reissue', () => {
  it('waits out STOPPED and NOENDPOINT, re-grants once per restart, then succeeds', async () => {
    let regrants = 0;
    const out = await reissue(timers, scripted(['STOPPED', 'NOENDPOINT', 'NOENDPOINT', 'GRANT', 42]), { restarted: () => void regrants++ });
    expect(out).toBe(42);
    expect(regrants).toBe(2); // after STOPPED, and after the GRANT that showed the lent pages were gone
  });

  it('keeps the hook due while the service is still restarting', async () => {
    let calls = 0;
    const hook = () => {
      if (++calls < 3) throw new ServiceError('NOENDPOINT', 'not yet');
    };
    expect(await reissue(timers, scripted(['STOPPED', 7]), { restarted: hook })).toBe(7);
    expect(calls).toBe(3);
  });

  it('retries an error the caller declares a restart symptom (a request first sent to the new instance), with the hook first', async () => {
    let regrants = 0;
    const symptom = (e: unknown) => e instanceof ServiceError && e.code === 'GRANT';
    expect(await reissue(timers, scripted(['GRANT', 5]), { symptom, restarted: () => void regrants++ })).toBe(5);
    expect(regrants).toBe(1);
    await expect(reissue(timers, scripted(['EINVAL', 5]), { symptom })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('throws the request\'s own errors at once, and gives up after the attempt limit', async () => {
    await expect(reissue(timers, scripted(['EINVAL', 1]))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(reissue(timers, scripted(['GRANT', 1]))).rejects.toMatchObject({ code: 'GRANT' }); // no restart seen: a real fault
    await expect(reissue(timers, scripted(['STOPPED', 'STOPPED', 'STOPPED']), { attemptsMax: 3 })).rejects.toMatchObject({ code: 'STOPPED' });
  });
});
