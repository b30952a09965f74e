/**
 * `/`, `/v1/status/*`, `/v1/operator/*`, `/v1/snapshot` and the legacy `/v1/acl/*` → typed `status.*`,
 * `operator.*`, `snapshot.*` and `acl.*` requests (ACL rules: core/agent/endpoints/operator.ts).
 */
import type { AutopilotHealth } from '../../../core/agent/autopilot.js';
import { decodeSnapshot, encodeSnapshot } from '../snapshot.js';
import { decodeJsonBody } from '../parse.js';
import { aclSchema, keyringSchema } from '../schemas.js';
import {
  type Handler,
  type Out,
  type Req,
  type Route,
  ask,
  badRequest,
  blockingRead,
  blockingWithRest,
  exact,
  isOut,
  prefix,
  readOptions,
  render,
  simple,
  text,
  withRest,
} from '../wire.js';

const root: Handler = () => text(200, 'Conclave Agent (Consul-compatible HTTP API at /v1/)');
const aclDisabled: Handler = () => text(401, 'ACL support disabled');

/** The legacy ACL API when ACLs are on (each request is authorized by the gate, core/agent/endpoints/operator.ts). */
function aclRoute(handler: Handler): Handler {
  return (r) => (r.ctx.acl?.enabled ? handler(r) : aclDisabled(r));
}

async function aclWrite(r: Req, type: 'acl.create' | 'acl.update'): Promise<Out> {
  const d = r.body.length === 0 ? { ok: true as const, value: {} } : decodeJsonBody(r.body, aclSchema);
  if (!d.ok) return badRequest(d.error);
  return ask(r, { type, definition: (d.value ?? {}) as Record<string, unknown> });
}

async function aclClone(r: Req): Promise<Out> {
  const source = await r.call({ type: 'acl.info', id: r.rest, read: { consistency: 'default' } });
  const token = Array.isArray(source.body)
    ? (source.body[0] as { Name: string; Type: string; Rules: string } | undefined)
    : undefined;
  if (source.status !== 200) return render(r, source, {});
  if (!token) return text(403, 'ACL not found');
  return ask(r, { type: 'acl.create', definition: { Name: token.Name, Type: token.Type, Rules: token.Rules } });
}

/** `GET /v1/snapshot`: the archive of the whole store (a default-consistency read through the leader). */
async function snapshotSave(r: Req): Promise<Out> {
  const read = readOptions(r);
  if (isOut(read)) return read;
  const response = await r.call({ type: 'snapshot.save', read });
  if (response.status !== 200) return render(r, response, {});
  const index = Math.max(1, Math.floor(Number(response.index ?? 1)) || 1);
  return {
    status: 200,
    headers: { 'Content-Type': 'application/octet-stream', 'X-Consul-Index': String(index) },
    body: encodeSnapshot(response.body, index),
  };
}

/** `PUT /v1/snapshot`: restore the archive's store through Raft. */
async function snapshotRestore(r: Req): Promise<Out> {
  const decoded = decodeSnapshot(r.body);
  if (!decoded.ok) return badRequest(decoded.error);
  return ask(r, { type: 'snapshot.restore', snapshot: decoded.store }, { empty: true });
}

/**
 * `/v1/operator/keyring`: GET lists every member's keys, POST installs, PUT makes primary, DELETE
 * removes (body `{"Key": …}`). Authorized here (keyring read / write), carried out by the process.
 */
function keyringRoute(op: 'list' | 'install' | 'use' | 'remove'): Handler {
  return async (r) => {
    let key: string | null = null;
    if (op !== 'list') {
      const d = decodeJsonBody(r.body, keyringSchema);
      if (!d.ok) return badRequest(d.error);
      const k = (d.value as { Key?: unknown } | null)?.Key;
      if (typeof k !== 'string' || k === '') return badRequest('Request body must have a Key');
      key = k;
    }
    const denied = await r.check({ type: 'operator.keyring', op });
    if (denied) return render(r, denied, {});
    if (!r.ctx.keyring) return text(500, 'Gossip encryption is not enabled on this agent (no keyring)');
    return render(r, await r.ctx.keyring(op, key), op === 'list' ? {} : { empty: true });
  };
}

/** A Go `time.Duration` string as Consul prints one ("0s", "12.5ms", "1.2s"). */
export function goDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1) return `${Number((ms * 1000).toFixed(3))}µs`;
  if (ms < 1000) return `${Number(ms.toFixed(3))}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/**
 * `GET /v1/operator/autopilot/health` (the leader computes it: core/agent/autopilot.ts): durations as
 * Go duration strings, StableSince as a time, and 429 when a server is unhealthy, as Consul answers.
 */
const autopilotHealthRoute: Handler = async (r) => {
  const out = await ask(r, { type: 'operator.autopilot.health' });
  if (out.status !== 200) return out;
  const health = JSON.parse(
    typeof out.body === 'string' ? out.body : Buffer.from(out.body).toString(),
  ) as AutopilotHealth;
  const nowMs = Date.now();
  const body = {
    Healthy: health.Healthy,
    FailureTolerance: health.FailureTolerance,
    Servers: health.Servers.map(({ LastContactMs, StableForMs, ...server }) => ({
      ID: server.ID,
      Name: server.Name,
      Address: server.Address,
      SerfStatus: server.SerfStatus,
      Version: server.Version,
      Leader: server.Leader,
      LastContact: LastContactMs < 0 ? 'never' : goDuration(LastContactMs),
      LastTerm: server.LastTerm,
      LastIndex: server.LastIndex,
      Healthy: server.Healthy,
      Voter: server.Voter,
      StableSince: new Date(nowMs - StableForMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    })),
  };
  return { ...out, status: health.Healthy ? 200 : 429, body: JSON.stringify(body) };
};

export const operatorRoutes: readonly Route[] = [
  exact('/', { GET: root, HEAD: root }),
  // status
  exact('/v1/status/leader', { GET: simple(() => ({ type: 'status.leader' })) }),
  exact('/v1/status/peers', { GET: simple(() => ({ type: 'status.peers' })) }),
  // operator
  exact('/v1/operator/raft/configuration', { GET: simple(() => ({ type: 'operator.raft.configuration' })) }),
  exact('/v1/operator/autopilot/health', { GET: autopilotHealthRoute }),
  exact('/v1/operator/raft/peer', {
    DELETE: simple(
      (r) => ({ type: 'operator.raft.removePeer', peer: r.query.get('address') || r.query.get('id') || '' }),
      { empty: true },
    ),
  }),
  // ACLs are off: every ACL endpoint says so, as python-consul's ACLDisabled expects.
  exact('/v1/acl/create', { PUT: aclRoute((r) => aclWrite(r, 'acl.create')) }),
  exact('/v1/acl/update', { PUT: aclRoute((r) => aclWrite(r, 'acl.update')) }),
  prefix('/v1/acl/destroy/', { PUT: aclRoute(withRest('ACL ID', (id) => ({ type: 'acl.destroy', id }))) }),
  prefix('/v1/acl/info/', {
    GET: aclRoute(blockingWithRest('ACL ID', (id, read) => ({ type: 'acl.info', id, read }))),
  }),
  prefix('/v1/acl/clone/', { PUT: aclRoute(aclClone) }),
  exact('/v1/acl/list', { GET: aclRoute((r) => blockingRead(r, (read) => ({ type: 'acl.list', read }))) }),
  prefix('/v1/acl/', { GET: aclDisabled, PUT: aclDisabled, POST: aclDisabled, DELETE: aclDisabled }),
  exact('/v1/snapshot', { GET: snapshotSave, PUT: snapshotRestore }),
  exact('/v1/operator/keyring', {
    GET: keyringRoute('list'),
    POST: keyringRoute('install'),
    PUT: keyringRoute('use'),
    DELETE: keyringRoute('remove'),
  }),
];
