import { describe, expect, it } from 'vitest';
import { ArswarmError } from '../common/errors.js';
import { parseTrialUser } from './trial-user.js';

const PASSWD =
  'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/usr/sbin/nologin\ntrial:x:10002:10003::/:/bin/false\n';

describe('parseTrialUser', () => {
  it('takes auto, none, ids and names', () => {
    expect(parseTrialUser('auto')).toBe('auto');
    expect(parseTrialUser('none')).toBe('none');
    expect(parseTrialUser('10002')).toEqual({ uid: 10002, gid: 10002 });
    expect(parseTrialUser('10002:20')).toEqual({ uid: 10002, gid: 20 });
    expect(parseTrialUser('trial', () => PASSWD)).toEqual({ uid: 10002, gid: 10003 });
    expect(parseTrialUser('nobody:7', () => PASSWD)).toEqual({ uid: 65534, gid: 7 });
  });

  it('refuses root, unknown names and bad groups', () => {
    for (const v of ['0', '10:0', 'root', 'ghost', '10:staff'])
      expect(() => parseTrialUser(v, () => PASSWD), v).toThrow(ArswarmError);
  });
});
