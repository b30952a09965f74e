/** "Did you mean": close names (edit distance ≤ a third of the word) and unique prefixes only. */
import { describe, expect, it } from 'vitest';
import { closest, didYouMean, editDistance } from './suggest.js';

describe('did you mean', () => {
  it('measures edit distance (Levenshtein)', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('suggests a close name, prefers the longer shared prefix on a tie, and stays quiet otherwise', () => {
    expect(closest('memebrs', ['members', 'join', 'leave'])).toBe('members');
    expect(closest('sped', ['seed', 'speed'])).toBe('speed');
    expect(closest('explo', ['explore', 'replay'])).toBe('explore'); // a unique prefix
    expect(closest('zzz', ['members', 'join'])).toBeNull();
    expect(closest('re', ['replay', 'report'])).toBeNull(); // an ambiguous prefix
    expect(didYouMean('--sed'.slice(2), ['seed'], '--')).toBe(" (did you mean '--seed'?)");
    expect(didYouMean('nothing', ['seed'])).toBe('');
  });
});
