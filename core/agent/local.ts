/**
 * The agent's local state: the services and checks this node hosts (Consul agent/local/state.go),
 * and the scheduling of their checks (agent/checks: CheckMonitor, CheckHTTP, CheckTCP, CheckTTL).
 *
 * Every change marks the item out of sync and asks anti-entropy to push it (core/agent/antiEntropy.ts).
 * API-registered services and checks are persisted (records `service/<id>`, `check/<id>`) so that a
 * restarted agent still hosts them, as Consul's data dir does; file-defined ones come from the config.
 *
 * Checks: a monitor check (script, http, tcp) has one timer; each firing emits a `runCheck` effect and
 * re-arms; the driver answers with a `checkResult` input carrying `<generation>/<checkId>`, so a result
 * for a check that was re-registered meanwhile is ignored. A TTL check has a deadline timer reset by
 * pass/warn/fail; when it fires the check goes critical ("TTL expired").
 */
import type { CheckSpec, CheckStatus, CheckResult, StorageOp } from '../types.js';
import type { CheckDefinition, ServiceDefinition } from './api.js';
import { triggerSync } from './antiEntropy.js';
import {
  count,
  trace,
  type AgentState,
  type CheckRunner,
  type Env,
  type LocalCheck,
  type LocalService,
  type Source,
} from './state.js';

/** Consul's MinInterval: shorter check intervals are raised to 1 s. */
export const checkIntervalMsMin = 1000;
export const scriptTimeoutMsDefault = 30_000;
export const networkTimeoutMsDefault = 10_000;
export const nodeMaintenanceCheckId = '_node_maintenance';
export const serviceMaintenancePrefix = '_service_maintenance:';
/** Bound on services and checks one agent hosts (a config error or a runaway client otherwise grows memory). */
export const localServicesMax = 4096;
export const localChecksMax = 8192;

// ───────────────────────────────────────── services ───────────────────────────────────────────────

function serviceIdOf(def: ServiceDefinition): string {
  return def.id !== undefined && def.id !== '' ? def.id : def.name;
}

/** Checks of a service definition with their ids and service link filled in (Consul's `service:<id>[:n]`). */
export function serviceChecks(def: ServiceDefinition): CheckDefinition[] {
  const id = serviceIdOf(def);
  const checks = def.checks ?? [];
  return checks.map((check, i) => ({
    ...check,
    id:
      check.id !== undefined && check.id !== ''
        ? check.id
        : checks.length === 1
          ? `service:${id}`
          : `service:${id}:${i + 1}`,
    name: check.name !== undefined && check.name !== '' ? check.name : `Service '${def.name}' check`,
    serviceId: id,
  }));
}

/** Adds or replaces a service and its checks. Returns an error text (HTTP 400) or null. */
export function addService(s: AgentState, env: Env, def: ServiceDefinition, source: Source): string | null {
  if (typeof def.name !== 'string' || def.name === '') return 'Missing service name';
  const id = serviceIdOf(def);
  if (!s.services.has(id) && s.services.size >= localServicesMax)
    return `Too many services on this agent (${localServicesMax})`;
  if (def.port !== undefined && (!Number.isInteger(def.port) || def.port < 0 || def.port > 65535))
    return `Invalid service port ${def.port}`;
  const checks = serviceChecks(def);
  for (const check of checks) {
    const problem = checkRunnerOf(s, check, source);
    if (typeof problem === 'string') return problem;
  }
  const previous = s.services.get(id);
  const service: LocalService = {
    id,
    service: def.name,
    tags: [...(def.tags ?? [])],
    address: def.address ?? '',
    port: def.port ?? 0,
    meta: { ...(def.meta ?? {}) },
    enableTagOverride: def.enableTagOverride ?? false,
    source,
    definition: def,
    inSync: false,
    version: (previous?.version ?? 0) + 1,
  };
  // A re-registration replaces the service's former checks.
  for (const check of [...s.checks.values()]) {
    if (check.serviceId !== id || check.id.startsWith(serviceMaintenancePrefix)) continue;
    removeCheckQuietly(s, env, check.id);
    s.deregisterChecks.add(check.id); // unless the new definition registers it again below
  }
  s.services.set(id, service);
  s.deregisterServices.delete(id);
  for (const check of checks) {
    const problem = addCheck(s, env, check, source, { fromService: true });
    if (problem) trace(env, { type: 'agent.checkRegisterFailed', id: String(check.id), problem });
  }
  if (source === 'api') persist(env, [{ op: 'put', key: `service/${id}`, value: def }]);
  count(s, 'servicesRegistered');
  triggerSync(s, env);
  return null;
}

export function removeService(s: AgentState, env: Env, id: string): boolean {
  const service = s.services.get(id);
  if (!service) return false;
  s.services.delete(id);
  for (const check of [...s.checks.values()]) if (check.serviceId === id) removeCheck(s, env, check.id);
  s.deregisterServices.add(id);
  if (service.source === 'api') persist(env, [{ op: 'delete', key: `service/${id}` }]);
  trace(env, { type: 'agent.deregistered', what: 'service', id });
  triggerSync(s, env);
  return true;
}

// ───────────────────────────────────────── checks ─────────────────────────────────────────────────

/** The runner for a definition, or an error text. */
export function checkRunnerOf(s: AgentState, def: CheckDefinition, source: Source): CheckRunner | string {
  const intervalMs = Math.max(checkIntervalMsMin, def.intervalMs ?? 0);
  const script =
    def.args && def.args.length > 0
      ? def.args
      : def.script !== undefined && def.script !== ''
        ? ['/bin/sh', '-c', def.script]
        : null;
  const kinds = [
    def.ttlMs !== undefined && def.ttlMs > 0,
    script !== null,
    def.http !== undefined && def.http !== '',
    def.tcp !== undefined && def.tcp !== '',
  ].filter(Boolean).length;
  if (kinds > 1) return 'Must provide only one of TTL, Script/Args, HTTP or TCP';
  if (def.ttlMs !== undefined && def.ttlMs > 0) return { kind: 'ttl', ttlMs: def.ttlMs };
  let spec: CheckSpec | null = null;
  let timeoutMs = networkTimeoutMsDefault;
  if (script !== null) {
    const enabled = s.config.enableScriptChecks || (source === 'file' && s.config.enableLocalScriptChecks);
    if (!enabled)
      return "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true";
    spec = { type: 'script', args: [...script] };
    timeoutMs = scriptTimeoutMsDefault;
  } else if (def.http !== undefined && def.http !== '') {
    spec = {
      type: 'http',
      url: def.http,
      method: def.method ?? 'GET',
      headers: def.header ?? {},
      body: def.body ?? '',
    };
  } else if (def.tcp !== undefined && def.tcp !== '') {
    spec = { type: 'tcp', address: def.tcp };
  }
  if (spec === null) return 'Must provide TTL or Script/Args, HTTP or TCP and Interval';
  if (!(def.intervalMs !== undefined && def.intervalMs > 0))
    return 'Interval must be > 0 for Script, HTTP, or TCP checks';
  return {
    kind: 'monitor',
    spec,
    intervalMs,
    timeoutMs: def.timeoutMs !== undefined && def.timeoutMs > 0 ? def.timeoutMs : timeoutMs,
  };
}

/** Adds or replaces a check. Returns an error text (HTTP 400) or null. */
export function addCheck(
  s: AgentState,
  env: Env,
  def: CheckDefinition,
  source: Source,
  options: { readonly runner?: CheckRunner; readonly fromService?: boolean } = {},
): string | null {
  const runnerOverride = options.runner;
  const name = def.name ?? '';
  const id = def.id !== undefined && def.id !== '' ? def.id : name;
  if (id === '' && name === '') return 'Missing check name';
  const serviceId = def.serviceId ?? '';
  const service = serviceId === '' ? undefined : s.services.get(serviceId);
  if (serviceId !== '' && !service) return `ServiceID "${serviceId}" does not exist`;
  const runner = runnerOverride ?? checkRunnerOf(s, def, source);
  if (typeof runner === 'string') return runner;
  if (!s.checks.has(id) && s.checks.size >= localChecksMax) return `Too many checks on this agent (${localChecksMax})`;
  const previous = s.checks.get(id);
  if (previous) removeCheckQuietly(s, env, id);
  s.deregisterChecks.delete(id);
  const check: LocalCheck = {
    id,
    name: name === '' ? id : name,
    notes: def.notes ?? '',
    serviceId,
    serviceName: service?.service ?? '',
    status: def.status ?? 'critical',
    output: '',
    runner,
    source,
    definitionKey: JSON.stringify(def),
    generation: s.nextCheckGeneration++,
    inSync: false,
    version: (previous?.version ?? 0) + 1,
  };
  s.checks.set(id, check);
  armRunner(s, env, check, true);
  if (source === 'api' && !options.fromService && runnerOverride === undefined)
    persist(env, [{ op: 'put', key: `check/${id}`, value: def }]);
  triggerSync(s, env);
  return null;
}

function removeCheckQuietly(s: AgentState, env: Env, id: string): void {
  const check = s.checks.get(id);
  if (!check) return;
  s.checks.delete(id);
  env.ctx.emit({ kind: 'cancelTimer', timer: `check:${id}` });
  env.ctx.emit({ kind: 'cancelTimer', timer: `ttl:${id}` });
}

export function removeCheck(s: AgentState, env: Env, id: string): boolean {
  const check = s.checks.get(id);
  if (!check) return false;
  removeCheckQuietly(s, env, id);
  s.deregisterChecks.add(id);
  if (check.source === 'api') persist(env, [{ op: 'delete', key: `check/${id}` }]);
  trace(env, { type: 'agent.deregistered', what: 'check', id });
  triggerSync(s, env);
  return true;
}

function armRunner(s: AgentState, env: Env, check: LocalCheck, first: boolean): void {
  if (check.runner.kind === 'monitor') {
    // Consul staggers the first run over the interval so that checks do not fire in lockstep.
    const afterMs = first ? 1 + env.ctx.prng.below(check.runner.intervalMs) : check.runner.intervalMs;
    env.ctx.emit({ kind: 'setTimer', timer: `check:${check.id}`, afterMs });
  } else if (check.runner.kind === 'ttl') {
    env.ctx.emit({ kind: 'setTimer', timer: `ttl:${check.id}`, afterMs: check.runner.ttlMs });
  }
}

/** `check:<id>` fired: run it once (the driver answers with a checkResult) and re-arm. */
export function onCheckTimer(s: AgentState, env: Env, id: string): void {
  const check = s.checks.get(id);
  if (!check || check.runner.kind !== 'monitor') return;
  count(s, 'checksRun');
  env.ctx.emit({
    kind: 'runCheck',
    checkId: `${check.generation}/${id}`,
    check: check.runner.spec,
    timeoutMs: check.runner.timeoutMs,
  });
  armRunner(s, env, check, false);
}

export function onCheckResult(s: AgentState, env: Env, checkId: string, result: CheckResult): void {
  const slash = checkId.indexOf('/');
  const generation = Number(checkId.slice(0, slash));
  const check = s.checks.get(checkId.slice(slash + 1));
  if (slash < 0 || !check || check.generation !== generation) return; // deregistered or replaced meanwhile
  const status: CheckStatus = result.status === 'passing' || result.status === 'warning' ? result.status : 'critical';
  // Consul logs every non-passing result, not only changes (the seed shows one line per run).
  if (status === 'passing') trace(env, { type: 'agent.checkPassing', id: check.id });
  else trace(env, { type: 'agent.checkStatus', id: check.id, status });
  setCheckStatus(s, env, check, status, result.output);
}

/** `ttl:<id>` fired: no pass/warn/fail arrived in time. */
export function onTtlTimer(s: AgentState, env: Env, id: string): void {
  const check = s.checks.get(id);
  if (!check || check.runner.kind !== 'ttl') return;
  trace(env, { type: 'agent.checkTtlMissed', id });
  setCheckStatus(s, env, check, 'critical', 'TTL expired');
}

/** pass/warn/fail/update through the API. Returns an error text (404) or null. */
export function updateCheckFromApi(
  s: AgentState,
  env: Env,
  id: string,
  status: CheckStatus,
  output: string,
): string | null {
  const check = s.checks.get(id);
  if (!check) return `CheckID "${id}" does not have associated TTL`;
  setCheckStatus(s, env, check, status, output);
  if (check.runner.kind === 'ttl') armRunner(s, env, check, false);
  return null;
}

export function setCheckStatus(s: AgentState, env: Env, check: LocalCheck, status: CheckStatus, output: string): void {
  const statusChanged = check.status !== status;
  if (!statusChanged && check.output === output) return;
  check.status = status;
  check.output = output;
  check.version++;
  check.inSync = false;
  // Output-only changes ride along with the next sync (Consul's check_update_interval); a status
  // change is pushed at once.
  if (statusChanged) triggerSync(s, env);
}

// ───────────────────────────────────────── maintenance ────────────────────────────────────────────

const nodeMaintenanceDefault =
  'Maintenance mode is enabled for this node, but no reason was provided. This is a default message.';
const serviceMaintenanceDefault =
  'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.';

export function setNodeMaintenance(s: AgentState, env: Env, enable: boolean, reason: string | undefined): void {
  if (enable) {
    if (s.checks.has(nodeMaintenanceCheckId)) return;
    addCheck(
      s,
      env,
      {
        id: nodeMaintenanceCheckId,
        name: 'Node Maintenance Mode',
        notes: reason || nodeMaintenanceDefault,
        status: 'critical',
      },
      'api',
      { runner: { kind: 'none' } },
    );
    s.nodeMaintenance = true;
    trace(env, { type: 'agent.nodeMaintenance', entered: true });
  } else if (removeCheck(s, env, nodeMaintenanceCheckId)) {
    s.nodeMaintenance = false;
    trace(env, { type: 'agent.nodeMaintenance', entered: false });
  }
}

/** Returns an error text (404) or null. */
export function setServiceMaintenance(
  s: AgentState,
  env: Env,
  serviceId: string,
  enable: boolean,
  reason: string | undefined,
): string | null {
  if (!s.services.has(serviceId)) return `Unknown service ID "${serviceId}"`;
  const id = `${serviceMaintenancePrefix}${serviceId}`;
  if (enable) {
    if (s.checks.has(id)) return null;
    addCheck(
      s,
      env,
      {
        id,
        name: 'Service Maintenance Mode',
        notes: reason || serviceMaintenanceDefault,
        status: 'critical',
        serviceId,
      },
      'api',
      { runner: { kind: 'none' } },
    );
    trace(env, { type: 'agent.serviceMaintenance', service: serviceId, entered: true });
  } else if (removeCheck(s, env, id))
    trace(env, { type: 'agent.serviceMaintenance', service: serviceId, entered: false });
  return null;
}

// ───────────────────────────────────────── config files and reload ───────────────────────────────

/**
 * Makes the file-defined services and checks match `services`/`checks` (SIGHUP, `agent.reload`, and
 * the first start): removed ones go, changed ones are re-registered, unchanged ones are left alone
 * (their check status survives). API-registered ones are not touched.
 */
export function applyFileDefinitions(
  s: AgentState,
  env: Env,
  services: readonly ServiceDefinition[],
  checks: readonly CheckDefinition[],
): string[] {
  const problems: string[] = [];
  const wantedServices = new Map(services.map((def) => [serviceIdOf(def), def]));
  for (const service of [...s.services.values()])
    if (service.source === 'file' && !wantedServices.has(service.id)) removeService(s, env, service.id);
  for (const [id, def] of wantedServices) {
    const existing = s.services.get(id);
    if (existing && existing.source === 'file' && JSON.stringify(existing.definition) === JSON.stringify(def)) continue;
    const problem = addService(s, env, def, 'file');
    if (problem) problems.push(`service '${id}': ${problem}`);
  }
  const wantedChecks = new Map(
    checks.map((def) => [def.id !== undefined && def.id !== '' ? def.id : (def.name ?? ''), def]),
  );
  for (const check of [...s.checks.values()])
    if (check.source === 'file' && check.serviceId === '' && !wantedChecks.has(check.id)) removeCheck(s, env, check.id);
  for (const [id, def] of wantedChecks) {
    const existing = s.checks.get(id);
    if (existing && existing.source === 'file' && existing.definitionKey === JSON.stringify(def)) continue;
    const problem = addCheck(s, env, def, 'file');
    if (problem) problems.push(`check '${id}': ${problem}`);
  }
  for (const problem of problems) trace(env, { type: 'agent.definitionFailed', problem });
  return problems;
}

function persist(env: Env, ops: StorageOp[]): void {
  env.ctx.emit({ kind: 'persist', ops });
}
