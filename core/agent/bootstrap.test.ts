/**
 * The bootstrap question (Consul's maybeBootstrap): what a peer's Raft view says about a server about to
 * found the cluster. The scenario that found why it matters is scenarios/raft/disk-replaced-bootstrap.txt;
 * these cases pin each verdict, and a peer's malformed answer (wire data) is refused as a view.
 */
import { describe, expect, it } from 'vitest';
import { checkBootstrapView, checkPeerForbids, type BootstrapView } from './bootstrap.js';

const servers = ['n1', 'n2', 'n3'];
const asker = { name: 'n1', serverId: 'id-new' };
const view = (over: Partial<BootstrapView>): BootstrapView => ({
  voters: [],
  lastIndex: 0,
  leader: null,
  knownIds: {},
  ...over,
});

describe('checkPeerForbids', () => {
  it('a peer with nothing, or founded with the same servers however far it went, allows the founding', () => {
    expect(checkPeerForbids(view({}), servers, asker)).toBeNull();
    const founded = view({ voters: ['n3', 'n1', 'n2'], lastIndex: 40, leader: 'n2' });
    expect(checkPeerForbids(founded, servers, asker)).toBeNull();
    // It heard the asker under the id the asker has now: the asker lost nothing.
    expect(checkPeerForbids({ ...founded, knownIds: { n1: 'id-new' } }, servers, asker)).toBeNull();
  });

  it('a peer that knows the asker under another id forbids it: the asker lost its data (seed 268)', () => {
    const founded = view({ voters: servers, lastIndex: 2, knownIds: { n1: 'id-old' } });
    expect(checkPeerForbids(founded, servers, asker)).toBe('knows n1 as id-old');
  });

  it('another configuration, or a cluster followed without one, forbids it', () => {
    expect(checkPeerForbids(view({ voters: ['n2', 'n3'], lastIndex: 9 }), servers, asker)).toBe(
      'holds another configuration',
    );
    expect(checkPeerForbids(view({ leader: 'n2' }), servers, asker)).toBe('follows a cluster');
  });

  it('reads the ids as own fields only', () => {
    const proto = view({ knownIds: Object.create({ n1: 'inherited' }) as Record<string, string> });
    expect(checkPeerForbids(proto, servers, asker)).toBeNull();
  });
});

describe('checkBootstrapView', () => {
  it('takes a view and refuses what is not one', () => {
    expect(checkBootstrapView(view({ voters: servers, knownIds: { n2: 'x' } }))).toBe(true);
    for (const bad of [
      null,
      7,
      [],
      { voters: 'n1', lastIndex: 0, leader: null, knownIds: {} },
      { ...view({}), knownIds: { n1: 3 } },
      { ...view({}), leader: 5 },
      { ...view({}), lastIndex: '1' },
    ])
      expect(checkBootstrapView(bad), JSON.stringify(bad)).toBe(false);
  });
});
