/**
 * Legacy ACLs (Consul 0.x–1.3, `/v1/acl/create|update|destroy|info|clone|list`, still what
 * python-consul 0.7.1 and node-consul's legacy API speak): tokens stored in the replicated store,
 * each `client` (its rules apply) or `management` (everything allowed). Rules are HCL:
 *
 *   key "foo/" { policy = "read" }        service "web-" { policy = "write" }
 *   event "" { policy = "deny" }          keyring = "read"        operator = "write"
 *
 * Block resources (key, key_prefix, service, node, agent, event, query, session) match by longest
 * prefix; `write` implies `read`; `deny` denies both. Where no rule of the token matches, the
 * agent's `acl_default_policy` decides (allow unless configured to deny). The `anonymous` token (no
 * rules) is used by requests that carry none.
 *
 * This module is pure: the rules parser (an HCL subset with a clear error), the authorizer, and the
 * store's table operations.
 */
import { bumpTable, type StoreState } from './state.js';
import type { CommandResult } from './types.js';

export type AclType = 'client' | 'management';
export type AclPolicy = 'read' | 'write' | 'deny';
export type AclResource = 'key' | 'service' | 'node' | 'agent' | 'event' | 'query' | 'session' | 'keyring' | 'operator';

/** Consul's legacy ACL shape, as `/v1/acl/info` answers it. */
export interface AclToken {
  readonly ID: string;
  readonly Name: string;
  readonly Type: AclType;
  readonly Rules: string;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

export interface AclDefinition {
  readonly ID: string;
  readonly Name: string;
  readonly Type: AclType;
  readonly Rules: string;
}

export const anonymousTokenId = 'anonymous';

// ───────────────────────────────────────────── rules ─────────────────────────────────────────────

export interface AclRules {
  /** resource → [prefix, policy] sorted by prefix length, longest first. */
  readonly prefixed: ReadonlyMap<AclResource, readonly (readonly [string, AclPolicy])[]>;
  readonly keyring?: AclPolicy;
  readonly operator?: AclPolicy;
}

const blockResources: Record<string, AclResource> = {
  key: 'key',
  key_prefix: 'key',
  service: 'service',
  service_prefix: 'service',
  node: 'node',
  node_prefix: 'node',
  agent: 'agent',
  agent_prefix: 'agent',
  event: 'event',
  event_prefix: 'event',
  query: 'query',
  query_prefix: 'query',
  session: 'session',
  session_prefix: 'session',
};

function policyOf(text: string, where: string): AclPolicy {
  if (text === 'read' || text === 'write' || text === 'deny') return text;
  if (text === 'list') return 'read'; // newer key policy: list implies read here
  throw new Error(`${where}: invalid policy "${text}" (read, write or deny)`);
}

/** Parses legacy ACL rules (an HCL subset). Throws an Error naming the line on anything else. */
export function parseAclRules(text: string): AclRules {
  const tokens: { t: string; line: number }[] = [];
  let line = 1;
  for (let i = 0; i < text.length;) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === ',') i++;
    else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\n') throw new Error(`line ${line}: unterminated string`);
        if (text[j] === '\\' && j + 1 < text.length) j++;
        s += text[j];
        j++;
      }
      if (j >= text.length) throw new Error(`line ${line}: unterminated string`);
      tokens.push({ t: `"${s}`, line });
      i = j + 1;
    } else if (c === '{' || c === '}' || c === '=') {
      tokens.push({ t: c, line });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < text.length && /[A-Za-z0-9_-]/.test(text[j]!)) j++;
      tokens.push({ t: text.slice(i, j), line });
      i = j;
    } else throw new Error(`line ${line}: unexpected '${c}'`);
  }
  const prefixed = new Map<AclResource, [string, AclPolicy][]>();
  let keyring: AclPolicy | undefined;
  let operator: AclPolicy | undefined;
  let k = 0;
  const next = (what: string) => {
    const tok = tokens[k++];
    if (!tok) throw new Error(`end of rules: expected ${what}`);
    return tok;
  };
  while (k < tokens.length) {
    const head = next('a rule');
    if (head.t === 'keyring' || head.t === 'operator') {
      if (next("'='").t !== '=') throw new Error(`line ${head.line}: expected '=' after ${head.t}`);
      const value = next('a policy');
      if (!value.t.startsWith('"')) throw new Error(`line ${value.line}: expected a quoted policy`);
      const policy = policyOf(value.t.slice(1), `line ${value.line}`);
      if (head.t === 'keyring') keyring = policy;
      else operator = policy;
      continue;
    }
    const resource = blockResources[head.t];
    if (!resource) throw new Error(`line ${head.line}: unknown rule '${head.t.replace(/^"/, '')}'`);
    const name = next('a quoted name');
    if (!name.t.startsWith('"')) throw new Error(`line ${name.line}: expected a quoted name after ${head.t}`);
    if (next("'{'").t !== '{') throw new Error(`line ${name.line}: expected '{'`);
    let policy: AclPolicy | undefined;
    for (;;) {
      const field = next("'policy' or '}'");
      if (field.t === '}') break;
      if (next("'='").t !== '=') throw new Error(`line ${field.line}: expected '=' after ${field.t}`);
      const value = next('a value');
      if (field.t === 'policy') {
        if (!value.t.startsWith('"')) throw new Error(`line ${value.line}: expected a quoted policy`);
        policy = policyOf(value.t.slice(1), `line ${value.line}`);
      } else if (field.t !== 'intentions')
        throw new Error(`line ${field.line}: unknown field '${field.t}' in ${head.t} "${name.t.slice(1)}"`);
    }
    if (policy === undefined) throw new Error(`line ${name.line}: ${head.t} "${name.t.slice(1)}" has no policy`);
    const list = prefixed.get(resource) ?? [];
    list.push([name.t.slice(1), policy]);
    prefixed.set(resource, list);
  }
  for (const list of prefixed.values()) list.sort((a, b) => b[0].length - a[0].length);
  return { prefixed, ...(keyring ? { keyring } : {}), ...(operator ? { operator } : {}) };
}

/**
 * May `token` do `access` on `resource` `name`? Management tokens may do anything; a client token's
 * longest matching prefix rule decides; without one, `defaultPolicy`. An unparsable rule set (it was
 * checked on write, so only a hand-edited store) denies.
 */
export function aclAllows(
  token: AclToken,
  defaultPolicy: 'allow' | 'deny',
  resource: AclResource,
  name: string,
  access: 'read' | 'write',
): boolean {
  if (token.Type === 'management') return true;
  let rules: AclRules;
  try {
    rules = parsedRules(token.Rules);
  } catch {
    return false;
  }
  let policy: AclPolicy | undefined;
  if (resource === 'keyring') policy = rules.keyring;
  else if (resource === 'operator') policy = rules.operator;
  else policy = rules.prefixed.get(resource)?.find(([prefix]) => name.startsWith(prefix))?.[1];
  if (policy === undefined) return defaultPolicy === 'allow';
  if (policy === 'deny') return false;
  return access === 'read' || policy === 'write';
}

/**
 * Write on `prefix` and on every narrower key rule under it (Consul's KeyWritePrefix): what a
 * recursive delete of the prefix needs.
 */
export function aclAllowsKeyPrefixWrite(token: AclToken, defaultPolicy: 'allow' | 'deny', prefix: string): boolean {
  if (!aclAllows(token, defaultPolicy, 'key', prefix, 'write')) return false;
  if (token.Type === 'management') return true;
  let rules: AclRules;
  try {
    rules = parsedRules(token.Rules);
  } catch {
    return false;
  }
  return (rules.prefixed.get('key') ?? []).every(
    ([rule, policy]) => !rule.startsWith(prefix) || rule === prefix || policy === 'write',
  );
}

const rulesCache = new Map<string, AclRules>();
function parsedRules(text: string): AclRules {
  let rules = rulesCache.get(text);
  if (!rules) {
    rules = parseAclRules(text);
    if (rulesCache.size > 1024) rulesCache.clear();
    rulesCache.set(text, rules);
  }
  return rules;
}

// ───────────────────────────────────────────── table ─────────────────────────────────────────────

export function checkAclDefinition(acl: unknown): string | null {
  if (acl === null || typeof acl !== 'object') return 'missing ACL';
  const a = acl as Partial<AclDefinition>;
  if (typeof a.ID !== 'string' || a.ID === '') return 'ACL ID must be a non-empty string';
  if (typeof a.Name !== 'string') return 'ACL Name must be a string';
  if (a.Type !== 'client' && a.Type !== 'management') return `Invalid ACL Type "${String(a.Type)}"`;
  if (typeof a.Rules !== 'string') return 'ACL Rules must be a string';
  if (a.Type === 'management' && a.Rules !== '') return 'Management ACLs cannot have rules';
  try {
    parseAclRules(a.Rules);
  } catch (error) {
    return `ACL rule compilation failed: ${(error as Error).message}`;
  }
  return null;
}

/** Create (`create`: the ID must be new) or replace a token; keeps CreateIndex on replace. */
export function aclSet(
  state: StoreState,
  index: number,
  acl: AclDefinition,
  create: boolean,
): CommandResult<{ ID: string }> {
  const problem = checkAclDefinition(acl);
  if (problem) return { ok: false, error: problem };
  const existing = state.acls.get(acl.ID);
  if (create && existing) return { ok: false, error: `ACL ${acl.ID} already exists` };
  state.acls.set(acl.ID, {
    ID: acl.ID,
    Name: acl.Name,
    Type: acl.Type,
    Rules: acl.Rules,
    CreateIndex: existing?.CreateIndex ?? index,
    ModifyIndex: index,
  });
  bumpTable(state, 'acls', index);
  return { ok: true, value: { ID: acl.ID } };
}

export function aclDelete(state: StoreState, index: number, id: string): CommandResult<true> {
  if (id === anonymousTokenId) return { ok: false, error: 'Cannot delete the anonymous token' };
  if (state.acls.delete(id)) bumpTable(state, 'acls', index);
  return { ok: true, value: true };
}

export function aclList(state: StoreState): AclToken[] {
  return [...state.acls.values()].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
}
