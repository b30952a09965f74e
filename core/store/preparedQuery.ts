/**
 * Prepared queries (Consul agent/consul/state/prepared_query.go, prepared_query_endpoint.go and
 * prepared_query/template.go): stored health queries on a service, looked up by ID or by name and
 * run in this datacenter.
 *
 *  - Writes (`preparedQuerySet`, `preparedQueryDelete`) go through Raft. The store enforces what
 *    depends on the replicated state: a name aliases no other query's name or ID, at most one
 *    template has the empty name, the session exists. What needs a regexp engine (a template's
 *    Regexp and its `${...}` interpolations) is checked by `checkPreparedQuery` on the proposing
 *    agent before it proposes, so no replica's engine can disagree with another's at apply time.
 *  - A query tied to a session is deleted when the session is invalidated (session.ts).
 *  - Resolution (`resolvePreparedQuery`): a UUID-shaped string is tried as an ID first (templates
 *    cannot be run by ID), then an exact name (case-insensitive, as Consul's memdb name index), then
 *    the template with the longest name prefix of it; a template is rendered for the name asked.
 *  - Execution: the service's instances without critical checks (and, with OnlyPassing, without
 *    warning ones; IgnoreCheckIDs do not count), filtered by NodeMeta, ServiceMeta and Tags ("!tag"
 *    excludes), shuffled, the Near node moved first, cut to the limit. There is one datacenter and no
 *    network coordinates here, so no failover happens and the order is the shuffle's.
 */
import { Prng } from '../prng.js';
import { distanceSeconds, type Coordinate } from '../swim/coordinate.js';
import { bumpTable, type StoreState } from './state.js';
import type { CheckServiceNode, CommandResult, PreparedQuery, PreparedQueryDefinition } from './types.js';

export const preparedQueryTemplateType = 'name_prefix_match';

// ─────────────────────────────────────────── templates ────────────────────────────────────────────

/**
 * Compiles a template's Regexp as Go's RE2 would accept it: with V8's linear-time engine when the
 * process enabled it (a pattern from a client must not be able to hang a server), else only patterns
 * without nested or adjacent quantified groups, backreferences or lookaround.
 */
let linearEngine: boolean | undefined; // asked at first use: the HTTP layer turns the engine on at start

function hasLinearEngine(): boolean {
  if (linearEngine === undefined) {
    try {
      new RegExp('a', 'l');
      linearEngine = true;
    } catch {
      linearEngine = false;
    }
  }
  return linearEngine;
}

export function compileTemplateRegexp(pattern: string): RegExp | { error: string } {
  const source = pattern.replace(/\(\?P</g, '(?<'); // Go's named groups
  try {
    if (hasLinearEngine()) return new RegExp(source, 'l');
    if (/[+*}?]\s*\)[+*{?]|\\[1-9]|\(\?<?[=!]/.test(source))
      return { error: `Bad Regexp: ${pattern}: could take exponential time` };
    return new RegExp(source);
  } catch (error) {
    return { error: `Bad Regexp: ${(error as Error).message}` };
  }
}

interface TemplateScope {
  readonly full: string;
  readonly prefix: string;
  readonly suffix: string;
  readonly matches: readonly string[];
}

/** HIL interpolation as Consul's templates use it: `${name.full}`, `${name.prefix}`, `${name.suffix}`, `${agent.segment}`, `${match(N)}`; `$${` is a literal `${`. */
export function interpolate(text: string, scope: TemplateScope): string | { error: string } {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out += text[i];
      i++;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    if (end < 0) return { error: `Failed compiling template: unterminated interpolation in "${text}"` };
    const expr = text.slice(i + 2, end).trim();
    const match = /^match\(\s*(\d+)\s*\)$/.exec(expr);
    if (match) out += scope.matches[Number(match[1])] ?? '';
    else if (expr === 'name.full') out += scope.full;
    else if (expr === 'name.prefix') out += scope.prefix;
    else if (expr === 'name.suffix') out += scope.suffix;
    else if (expr === 'agent.segment') out += '';
    else return { error: `Failed compiling template: unknown variable or function "${expr}"` };
    i = end + 1;
  }
  return out;
}

type Service = PreparedQueryDefinition['Service'];

/** Every string of a query's `Service` (map values, not keys) through `f`; the first error wins. */
function mapServiceStrings(
  service: Service,
  f: (text: string) => string | { error: string },
): Service | { error: string } {
  let failed: { error: string } | null = null;
  const one = (text: string): string => {
    if (failed) return text;
    const r = f(text);
    if (typeof r === 'string') return r;
    failed = r;
    return text;
  };
  const list = (xs: readonly string[] | null): readonly string[] | null => (xs === null ? null : xs.map(one));
  const map = (m: Readonly<Record<string, string>> | null): Readonly<Record<string, string>> | null =>
    m === null ? null : Object.fromEntries(Object.entries(m).map(([k, v]) => [k, one(v)]));
  const out: Service = {
    Service: one(service.Service),
    Failover: { NearestN: service.Failover.NearestN, Datacenters: list(service.Failover.Datacenters) },
    OnlyPassing: service.OnlyPassing,
    IgnoreCheckIDs: list(service.IgnoreCheckIDs),
    Near: one(service.Near),
    Tags: list(service.Tags),
    NodeMeta: map(service.NodeMeta),
    ServiceMeta: map(service.ServiceMeta),
  };
  return failed ?? out;
}

function isTemplate(query: PreparedQueryDefinition): boolean {
  return query.Template.Type !== '';
}

/** A template rendered for `name` (Consul's CompiledTemplate.Render). */
export function renderTemplate<Q extends PreparedQueryDefinition>(query: Q, name: string): Q | { error: string } {
  if (!isTemplate(query)) return query;
  let matches: string[] = [];
  if (query.Template.Regexp !== '') {
    const re = compileTemplateRegexp(query.Template.Regexp);
    if (!(re instanceof RegExp)) return re;
    matches = [...(re.exec(name) ?? [])].map((m) => m ?? '');
  }
  const scope: TemplateScope = {
    full: name,
    prefix: query.Name,
    suffix: name.startsWith(query.Name) ? name.slice(query.Name.length) : name,
    matches,
  };
  const service = mapServiceStrings(query.Service, (text) => interpolate(text, scope));
  if ('error' in service) return service;
  const tags =
    query.Template.RemoveEmptyTags && service.Tags !== null ? service.Tags.filter((t) => t !== '') : service.Tags;
  return { ...query, Service: { ...service, Tags: tags } };
}

// ─────────────────────────────────────────── validation ───────────────────────────────────────────

const obj = (x: unknown): Record<string, unknown> =>
  x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
const str = (x: unknown): string => (typeof x === 'string' ? x : '');
const strList = (x: unknown): readonly string[] | null =>
  Array.isArray(x) ? x.filter((v): v is string => typeof v === 'string') : null;
const strMap = (x: unknown): Readonly<Record<string, string>> | null =>
  x !== null && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(
        Object.entries(x as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
      )
    : null;

/** A request body (Consul's field names, already case-normalised) as a full definition with Consul's zero values. */
export function preparedQueryFromInput(input: Readonly<Record<string, unknown>>, id: string): PreparedQueryDefinition {
  const template = obj(input.Template);
  const service = obj(input.Service);
  const failover = obj(service.Failover);
  const nearestN = failover.NearestN;
  return {
    ID: id,
    Name: str(input.Name),
    Session: str(input.Session),
    Token: str(input.Token),
    Template: {
      Type: str(template.Type),
      Regexp: str(template.Regexp),
      RemoveEmptyTags: template.RemoveEmptyTags === true,
    },
    Service: {
      Service: str(service.Service),
      Failover: {
        NearestN: typeof nearestN === 'number' && Number.isSafeInteger(nearestN) ? nearestN : 0,
        Datacenters: strList(failover.Datacenters),
      },
      OnlyPassing: service.OnlyPassing === true,
      IgnoreCheckIDs: strList(service.IgnoreCheckIDs),
      Near: str(service.Near),
      Tags: strList(service.Tags),
      NodeMeta: strMap(service.NodeMeta),
      ServiceMeta: strMap(service.ServiceMeta),
    },
    DNS: { TTL: str(obj(input.DNS).TTL) },
  };
}

function validDuration(text: string): boolean {
  return /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/.test(text) || text === '0';
}

/**
 * What Consul's PreparedQuery.Apply checks before it proposes (parseQuery, template Compile): a
 * service name, a known template type, a Regexp and interpolations that compile, a DNS TTL that is a
 * non-negative Go duration, NearestN ≥ 0. Null when the query is acceptable.
 */
export function checkPreparedQuery(query: PreparedQueryDefinition): string | null {
  if (query.Service.Service === '') return 'Must provide a Service name to query';
  if (query.Service.Failover.NearestN < 0) return `Bad NearestN '${query.Service.Failover.NearestN}', must be >= 0`;
  if (query.DNS.TTL !== '' && !validDuration(query.DNS.TTL))
    return `Bad DNS TTL '${query.DNS.TTL}': time: invalid duration "${query.DNS.TTL}"`;
  if (query.Template.Type !== '' && query.Template.Type !== preparedQueryTemplateType)
    return `Bad Template.Type '${query.Template.Type}'`;
  if (isTemplate(query)) {
    if (query.Template.Regexp !== '') {
      const re = compileTemplateRegexp(query.Template.Regexp);
      if (!(re instanceof RegExp)) return re.error;
    }
    const probe = mapServiceStrings(query.Service, (text) =>
      interpolate(text, { full: '', prefix: '', suffix: '', matches: [] }),
    );
    if ('error' in probe) return probe.error;
  }
  return null;
}

// ─────────────────────────────────────────── commands ─────────────────────────────────────────────

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Creates or replaces a prepared query (Consul preparedQuerySetTxn plus the endpoint's existence check). */
export function preparedQuerySet(
  state: StoreState,
  index: number,
  query: PreparedQueryDefinition,
  create: boolean,
): CommandResult<{ ID: string }> {
  if (query === null || typeof query !== 'object' || typeof query.ID !== 'string' || query.ID === '')
    return { ok: false, error: 'Must provide a prepared query ID' };
  if (
    typeof query.Name !== 'string' ||
    query.Service === null ||
    typeof query.Service !== 'object' ||
    typeof query.Service.Service !== 'string' ||
    query.Service.Service === ''
  ) {
    return { ok: false, error: 'Must provide a Service name to query' };
  }
  const existing = state.preparedQueries.get(query.ID);
  if (create && existing) return { ok: false, error: `Prepared query ID '${query.ID}' already exists` };
  if (!create && !existing) return { ok: false, error: `Cannot modify non-existent prepared query: '${query.ID}'` };
  for (const other of state.preparedQueries.values()) {
    if (other.ID === query.ID) continue;
    if (query.Name !== '' && sameName(other.Name, query.Name))
      return { ok: false, error: `name '${query.Name}' aliases an existing query name` };
    if (query.Name === '' && isTemplate(query) && isTemplate(other) && other.Name === '')
      return { ok: false, error: 'a query template with an empty name already exists' };
    if (query.Name !== '' && sameName(other.ID, query.Name))
      return { ok: false, error: `name '${query.Name}' aliases an existing query ID` };
  }
  if (query.Session !== '' && !state.sessions.has(query.Session))
    return { ok: false, error: `invalid session "${query.Session}"` };
  state.preparedQueries.set(query.ID, { ...query, CreateIndex: existing?.CreateIndex ?? index, ModifyIndex: index });
  bumpTable(state, 'prepared-queries', index);
  return { ok: true, value: { ID: query.ID } };
}

export function preparedQueryDelete(state: StoreState, index: number, id: string): CommandResult<boolean> {
  if (!state.preparedQueries.has(id)) return { ok: false, error: `Cannot modify non-existent prepared query: '${id}'` };
  state.preparedQueries.delete(id);
  bumpTable(state, 'prepared-queries', index);
  return { ok: true, value: true };
}

/** A session was invalidated: the queries tied to it go with it (Consul deleteSessionTxn). */
export function deletePreparedQueriesOfSession(state: StoreState, index: number, session: string): void {
  let deleted = false;
  for (const [id, query] of state.preparedQueries) {
    if (query.Session !== session) continue;
    state.preparedQueries.delete(id);
    deleted = true;
  }
  if (deleted) bumpTable(state, 'prepared-queries', index);
}

// ─────────────────────────────────────────── resolution ───────────────────────────────────────────

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function preparedQueryList(state: StoreState): PreparedQuery[] {
  return [...state.preparedQueries.values()].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
}

/** The query `idOrName` names, rendered for it; null when none; `{ error }` for a template asked by ID. */
export function resolvePreparedQuery(state: StoreState, idOrName: string): PreparedQuery | null | { error: string } {
  if (idOrName === '') return null;
  if (uuidShape.test(idOrName)) {
    const byId =
      state.preparedQueries.get(idOrName) ?? [...state.preparedQueries.values()].find((q) => sameName(q.ID, idOrName));
    if (byId)
      return isTemplate(byId) ? { error: 'prepared query templates can only be resolved up by name, not by ID' } : byId;
  }
  let best: PreparedQuery | null = null;
  for (const query of state.preparedQueries.values()) {
    if (query.Name !== '' && sameName(query.Name, idOrName)) return renderTemplate(query, idOrName);
    if (!isTemplate(query) || !idOrName.toLowerCase().startsWith(query.Name.toLowerCase())) continue;
    if (best === null || query.Name.length > best.Name.length) best = query;
  }
  return best === null ? null : renderTemplate(best, idOrName);
}

// ─────────────────────────────────────────── execution ────────────────────────────────────────────

export interface ExecuteOptions {
  readonly near?: string;
  readonly limit?: number;
  readonly agentNode: string;
  readonly seed: number;
  /** Network coordinates by node (the store's table): `near` sorts by estimated round trip. */
  readonly coordinates?: ReadonlyMap<string, Coordinate>;
}

function metaMatches(want: Readonly<Record<string, string>> | null, have: Readonly<Record<string, string>>): boolean {
  return want === null || Object.entries(want).every(([k, v]) => have[k] === v);
}

/** Consul's tagFilter: every plain tag present, no "!tag" present, case-insensitively. */
function tagsMatch(tags: readonly string[] | null, have: readonly string[]): boolean {
  if (tags === null || tags.length === 0) return true;
  const lower = new Set(have.map((t) => t.toLowerCase()));
  return tags.every((tag) => {
    const t = tag.toLowerCase();
    return t.startsWith('!') ? !lower.has(t.slice(1)) : lower.has(t);
  });
}

/** Runs a resolved query over the service's instances (each with its node and service checks). */
export function executePreparedQuery(
  query: PreparedQueryDefinition,
  instances: readonly CheckServiceNode[],
  options: ExecuteOptions,
): CheckServiceNode[] {
  const service = query.Service;
  const ignored = new Set(service.IgnoreCheckIDs ?? []);
  const healthy = instances.filter((entry) =>
    entry.Checks.every(
      (c) => ignored.has(c.CheckID) || !(c.Status === 'critical' || (service.OnlyPassing && c.Status !== 'passing')),
    ),
  );
  const nodes = healthy.filter(
    (e) =>
      metaMatches(service.NodeMeta, e.Node.Meta) &&
      metaMatches(service.ServiceMeta, e.Service.Meta) &&
      tagsMatch(service.Tags, e.Service.Tags),
  );
  new Prng(Number.isSafeInteger(options.seed) ? options.seed : 0).shuffle(nodes);
  let near = options.near || service.Near;
  if (near === '_agent') near = options.agentNode;
  if (near) {
    // Consul sorts by network distance (stable: the shuffle breaks ties; nodes without a coordinate
    // last), then moves the near node first if it is among the first 10.
    const origin = options.coordinates?.get(near);
    if (origin !== undefined) {
      const distance = (e: CheckServiceNode): number => {
        const c = options.coordinates!.get(e.Node.Node);
        return c === undefined ? Number.POSITIVE_INFINITY : distanceSeconds(origin, c);
      };
      const sorted = nodes.map((e, i) => ({ e, i, d: distance(e) })).sort((a, b) => a.d - b.d || a.i - b.i);
      for (const [k, x] of sorted.entries()) nodes[k] = x.e;
    }
    const at = nodes.slice(0, 10).findIndex((e) => e.Node.Node === near);
    if (at > 0) [nodes[0], nodes[at]] = [nodes[at]!, nodes[0]!];
  }
  return options.limit !== undefined && options.limit > 0 ? nodes.slice(0, options.limit) : nodes;
}
