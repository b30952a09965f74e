/**
 * The storage model: synced writes survive a crash; unsynced ones may or may not (any prefix); the
 * first write past the survivors may be torn and is then reported as a torn tail; bit rot before the
 * tail is reported as corruption by position. Checked over many seeds of the storage stream.
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../../core/prng.js';
import { SimStorage } from '../engine/storage.js';

describe('SimStorage', () => {
  for (const codec of [true, false]) {
    it(`keeps synced writes and loses some unsynced ones (codec ${codec})`, () => {
      let lostSome = 0;
      let keptSome = 0;
      for (let seed = 0; seed < 200; seed++) {
        const disk = new SimStorage(codec);
        disk.write([
          { op: 'append', log: 'log', entries: ['a', 'b'] },
          { op: 'put', key: 'hard', value: { term: 1 } },
        ]);
        disk.sync(disk.writtenMarker);
        disk.write([{ op: 'append', log: 'log', entries: ['c'] }]);
        disk.write([{ op: 'put', key: 'hard', value: { term: 2 } }]);
        expect(disk.unsynced).toBe(true);
        disk.crash(new Prng(seed), 0, 100);
        const loaded = disk.load();
        const entries = loaded.logs.get('log')!.entries;
        expect(entries.slice(0, 2)).toEqual(['a', 'b']);
        const term = (loaded.records.get('hard') as { term: number }).term;
        if (entries.length === 2) lostSome++;
        else keptSome++;
        // Survivors are a prefix: the later term-2 write never survives without the earlier append.
        if (term === 2) expect(entries).toEqual(['a', 'b', 'c']);
      }
      expect(lostSome).toBeGreaterThan(20);
      expect(keptSome).toBeGreaterThan(20);
    });
  }

  it('reports a torn append as a torn tail and cuts it off', () => {
    const disk = new SimStorage(true);
    disk.write([{ op: 'append', log: 'log', entries: ['a'] }]);
    disk.sync(1);
    disk.write([{ op: 'append', log: 'log', entries: ['b', 'c', 'd'] }]);
    let torn = false;
    for (let seed = 0; seed < 50 && !torn; seed++) {
      const copy = new SimStorage(true);
      copy.write([{ op: 'append', log: 'log', entries: ['a'] }]);
      copy.sync(1);
      copy.write([{ op: 'append', log: 'log', entries: ['b', 'c', 'd'] }]);
      const outcome = copy.crash(new Prng(seed), 100, 100);
      if (!outcome.torn) continue;
      torn = true;
      const log = copy.load().logs.get('log')!;
      expect(log.tornTail).toBe(true);
      expect(log.entries[0]).toBe('a');
      expect(log.entries.length).toBeLessThan(4);
      copy.acknowledgeLoad();
      expect(copy.load().logs.get('log')!.tornTail).toBe(false);
    }
    expect(torn).toBe(true);
  });

  it('reports bit rot before the tail as corruption, at the tail as torn', () => {
    for (let seed = 0; seed < 40; seed++) {
      const disk = new SimStorage(true);
      disk.write([{ op: 'append', log: 'log', entries: [1, 2, 3, 4] }]);
      disk.sync(1);
      const where = disk.rot(new Prng(seed))!;
      const log = disk.load().logs.get('log')!;
      if (where.position === 3) {
        expect(log.tornTail).toBe(true);
        expect(log.entries).toEqual([1, 2, 3]);
      } else expect(log.corrupt?.position).toBe(where.position);
    }
  });

  it('stores copies: mutating a value after persisting it does not change the disk', () => {
    const disk = new SimStorage(true);
    const value = { term: 1 };
    disk.write([{ op: 'put', key: 'k', value }]);
    disk.sync(1);
    value.term = 99;
    expect(disk.load().records.get('k')).toEqual({ term: 1 });
  });
});
