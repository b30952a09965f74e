/**
 * Legacy ACLs in the core: the rules parser (HCL subset, errors naming the line), the authorizer
 * (management, longest prefix, write implies read, deny, default policy), and the store's table.
 */
import { describe, expect, it } from 'vitest';
import { aclAllows, aclAllowsKeyPrefixWrite, parseAclRules, type AclToken } from './acl.js';
import { createStoreFsm } from './store.js';

const rules = `
  key "" { policy = "read" }
  key "private/" {
    policy = "deny"
  }
  key "private/open/" { policy = "write" }   # a narrower grant inside a denied prefix
  service "foo-" { policy = "write" }
  service "bar-" { policy = "read" }
  operator = "read"
`;
const client = (r: string): AclToken => ({
  ID: 't',
  Name: '',
  Type: 'client',
  Rules: r,
  CreateIndex: 1,
  ModifyIndex: 1,
});

describe('ACL rules', () => {
  it('parses blocks and scalars; longest prefix first', () => {
    const parsed = parseAclRules(rules);
    expect(parsed.prefixed.get('key')).toEqual([
      ['private/open/', 'write'],
      ['private/', 'deny'],
      ['', 'read'],
    ]);
    expect(parsed.prefixed.get('service')).toEqual([
      ['foo-', 'write'],
      ['bar-', 'read'],
    ]);
    expect(parsed.operator).toBe('read');
    expect(parseAclRules('').prefixed.size).toBe(0);
  });

  it('refuses malformed rules, naming the line', () => {
    expect(() => parseAclRules('key "a" { policy = "maybe" }')).toThrow(/line 1: invalid policy "maybe"/);
    expect(() => parseAclRules('\n\nbogus "a" { policy = "read" }')).toThrow(/line 3: unknown rule 'bogus'/);
    expect(() => parseAclRules('key "a" {')).toThrow(/end of rules/);
    expect(() => parseAclRules('key a { policy = "read" }')).toThrow(/expected a quoted name/);
    expect(() => parseAclRules('key "a" { }')).toThrow(/has no policy/);
    expect(() => parseAclRules('key "a\n" { policy = "read" }')).toThrow(/unterminated string/);
  });

  it('authorizes: management all, longest prefix, write implies read, deny denies, default policy elsewhere', () => {
    const t = client(rules);
    expect(aclAllows(t, 'allow', 'key', 'foo', 'read')).toBe(true);
    expect(aclAllows(t, 'allow', 'key', 'foo', 'write')).toBe(false);
    expect(aclAllows(t, 'allow', 'key', 'private/x', 'read')).toBe(false);
    expect(aclAllows(t, 'allow', 'key', 'private/open/x', 'write')).toBe(true);
    expect(aclAllows(t, 'allow', 'service', 'foo-1', 'write')).toBe(true);
    expect(aclAllows(t, 'allow', 'service', 'bar-1', 'write')).toBe(false);
    expect(aclAllows(t, 'allow', 'service', 'bar-1', 'read')).toBe(true);
    expect(aclAllows(t, 'allow', 'service', 'web', 'write')).toBe(true); // no rule: default allow
    expect(aclAllows(t, 'deny', 'service', 'web', 'read')).toBe(false); // no rule: default deny
    expect(aclAllows(t, 'deny', 'operator', '', 'read')).toBe(true);
    expect(aclAllows(t, 'deny', 'operator', '', 'write')).toBe(false);
    const management: AclToken = { ...client(''), Type: 'management' };
    expect(aclAllows(management, 'deny', 'key', 'private/x', 'write')).toBe(true);
    expect(aclAllows(client('key "" {'), 'allow', 'key', 'x', 'read')).toBe(false); // unparsable: deny
  });

  it('a recursive delete needs write on the prefix and on every narrower key rule', () => {
    const t = client(
      'key "" { policy = "write" }\nkey "app/" { policy = "write" }\nkey "app/secret/" { policy = "read" }',
    );
    expect(aclAllowsKeyPrefixWrite(t, 'allow', 'app/other/')).toBe(true);
    expect(aclAllowsKeyPrefixWrite(t, 'allow', 'app/')).toBe(false);
    expect(aclAllowsKeyPrefixWrite(t, 'allow', '')).toBe(false);
    expect(aclAllowsKeyPrefixWrite(client(rules), 'allow', 'private/open/')).toBe(true);
    expect(aclAllowsKeyPrefixWrite({ ...t, Type: 'management' }, 'deny', '')).toBe(true);
  });
});

describe('ACL table', () => {
  it('create, update keeps CreateIndex, duplicate create refused, anonymous kept, snapshot carries it', () => {
    const fsm = createStoreFsm();
    let index = 0;
    const apply = (command: Parameters<typeof fsm.apply>[0]) => {
      const r = fsm.apply(command, ++index);
      expect(fsm.invariants()).toEqual([]);
      return r;
    };
    expect(
      apply({
        type: 'aclSet',
        acl: { ID: 'anonymous', Name: 'Anonymous Token', Type: 'client', Rules: '' },
        create: true,
      }),
    ).toEqual({ ok: true, value: { ID: 'anonymous' } });
    expect(apply({ type: 'aclSet', acl: { ID: 't1', Name: 'a', Type: 'client', Rules: rules }, create: true })).toEqual(
      { ok: true, value: { ID: 't1' } },
    );
    expect(apply({ type: 'aclSet', acl: { ID: 't1', Name: 'b', Type: 'client', Rules: rules }, create: true }).ok).toBe(
      false,
    );
    expect(
      apply({ type: 'aclSet', acl: { ID: 't1', Name: 'b', Type: 'client', Rules: rules }, create: false }).ok,
    ).toBe(true);
    expect(
      apply({
        type: 'aclSet',
        acl: { ID: 't2', Name: '', Type: 'client', Rules: 'key "x" { policy = "sometimes" }' },
        create: true,
      }),
    ).toMatchObject({ ok: false, error: expect.stringMatching(/ACL rule compilation failed/) });
    expect(
      apply({
        type: 'aclSet',
        acl: { ID: 't3', Name: '', Type: 'management', Rules: 'key "" { policy = "read" }' },
        create: true,
      }).ok,
    ).toBe(false);
    expect(fsm.query({ type: 'aclGet', id: 't1' })).toMatchObject({
      value: { ID: 't1', Name: 'b', CreateIndex: 2, ModifyIndex: 4 },
    });
    expect(apply({ type: 'aclDelete', id: 'anonymous' }).ok).toBe(false);
    const copy = createStoreFsm();
    copy.restore(fsm.snapshot());
    expect(copy.query({ type: 'aclList' })).toEqual(fsm.query({ type: 'aclList' }));
    expect(apply({ type: 'aclDelete', id: 't1' }).ok).toBe(true);
    expect((fsm.query({ type: 'aclList' }) as { value: { ID: string }[] }).value.map((t) => t.ID)).toEqual([
      'anonymous',
    ]);
  });
});
