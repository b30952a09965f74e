/**
 * Request body shapes for the Consul endpoints, so keys can be normalised to Consul's canonical
 * PascalCase names (see `normalizeKeys` in parse.ts). Field lists follow Consul's Go structs:
 * `structs.CheckType`, `structs.ServiceDefinition`, `structs.RegisterRequest`, `structs.Session`,
 * `api.TxnOp`. Fields we do not model are still listed when clients send them, so they survive.
 */
import { S, type Schema } from './parse.js';

const stringMap = S.map(S.string);
const stringArray = S.array(S.string);

/** `structs.CheckType` and `CheckDefinition` (agent check register and the service's checks). */
export const checkTypeSchema: Schema = S.struct({
  ID: S.string,
  CheckID: S.string,
  Name: S.string,
  Notes: S.string,
  Status: S.string,
  ServiceID: S.string,
  Script: S.string,
  Args: stringArray,
  ScriptArgs: stringArray,
  HTTP: S.string,
  Header: S.map(stringArray),
  Method: S.string,
  Body: S.string,
  DisableRedirects: S.bool,
  TCP: S.string,
  UDP: S.string,
  GRPC: S.string,
  GRPCUseTLS: S.bool,
  H2Ping: S.string,
  H2PingUseTLS: S.bool,
  TLSServerName: S.string,
  TLSSkipVerify: S.bool,
  DockerContainerID: S.string,
  Shell: S.string,
  AliasNode: S.string,
  AliasService: S.string,
  Interval: S.duration,
  Timeout: S.duration,
  TTL: S.duration,
  DeregisterCriticalServiceAfter: S.duration,
  OutputMaxSize: S.int,
  SuccessBeforePassing: S.int,
  FailuresBeforeWarning: S.int,
  FailuresBeforeCritical: S.int,
});

const serviceAddressSchema = S.struct({ Address: S.string, Port: S.int });

/** `structs.ServiceDefinition` (PUT /v1/agent/service/register). */
export const serviceRegisterSchema: Schema = S.struct({
  Kind: S.string,
  ID: S.string,
  Name: S.string,
  Tags: stringArray,
  Address: S.string,
  TaggedAddresses: S.map(serviceAddressSchema),
  Meta: stringMap,
  Port: S.int,
  EnableTagOverride: S.bool,
  Weights: S.struct({ Passing: S.int, Warning: S.int }),
  Check: checkTypeSchema,
  Checks: S.array(checkTypeSchema),
  Proxy: S.any,
  Connect: S.any,
});

/** `structs.HealthCheck` as sent in a catalog registration. */
const catalogCheckSchema: Schema = S.struct({
  Node: S.string,
  CheckID: S.string,
  Name: S.string,
  Status: S.string,
  Notes: S.string,
  Output: S.string,
  ServiceID: S.string,
  ServiceName: S.string,
  ServiceTags: stringArray,
  Definition: S.struct({
    HTTP: S.string,
    TCP: S.string,
    Header: S.map(stringArray),
    Method: S.string,
    TLSSkipVerify: S.bool,
    TLSServerName: S.string,
    Interval: S.duration,
    IntervalDuration: S.duration,
    Timeout: S.duration,
    TimeoutDuration: S.duration,
    DeregisterCriticalServiceAfter: S.duration,
    DeregisterCriticalServiceAfterDuration: S.duration,
  }),
});

/** `structs.RegisterRequest` (PUT /v1/catalog/register). */
export const catalogRegisterSchema: Schema = S.struct({
  ID: S.string,
  Node: S.string,
  Address: S.string,
  Datacenter: S.string,
  TaggedAddresses: stringMap,
  NodeMeta: stringMap,
  SkipNodeUpdate: S.bool,
  Service: S.struct({
    Kind: S.string,
    ID: S.string,
    Service: S.string,
    Tags: stringArray,
    Address: S.string,
    TaggedAddresses: S.map(serviceAddressSchema),
    Meta: stringMap,
    Port: S.int,
    EnableTagOverride: S.bool,
    Weights: S.struct({ Passing: S.int, Warning: S.int }),
  }),
  Check: catalogCheckSchema,
  Checks: S.array(catalogCheckSchema),
});

/** `structs.DeregisterRequest` (PUT /v1/catalog/deregister). */
export const catalogDeregisterSchema: Schema = S.struct({
  Node: S.string,
  Datacenter: S.string,
  ServiceID: S.string,
  CheckID: S.string,
});

/** `structs.Session` as accepted by PUT /v1/session/create. */
export const sessionCreateSchema: Schema = S.struct({
  ID: S.string,
  Name: S.string,
  Node: S.string,
  LockDelay: S.duration,
  Checks: stringArray,
  NodeChecks: stringArray,
  ServiceChecks: S.array(S.struct({ ID: S.string, Namespace: S.string })),
  Behavior: S.string,
  TTL: S.string,
});

/** `api.TxnOps` (PUT /v1/txn); only KV operations are tier 2, the others are kept for a clear error. */
export const txnSchema: Schema = S.array(
  S.struct({
    KV: S.struct({
      Verb: S.string,
      Key: S.string,
      Value: S.string,
      Flags: S.uint64,
      Index: S.int,
      Session: S.string,
    }),
    Node: S.any,
    Service: S.any,
    Check: S.any,
  }),
);

/** PUT /v1/agent/check/update/<id>. */
export const checkUpdateSchema: Schema = S.struct({ Status: S.string, Output: S.string });

/** `structs.PreparedQuery` (POST /v1/query, PUT /v1/query/<id>). */
export const preparedQuerySchema: Schema = S.struct({
  ID: S.string,
  Name: S.string,
  Session: S.string,
  Token: S.string,
  Template: S.struct({ Type: S.string, Regexp: S.string, RemoveEmptyTags: S.bool }),
  Service: S.struct({
    Service: S.string,
    Failover: S.struct({ NearestN: S.int, Datacenters: stringArray, Targets: S.any }),
    OnlyPassing: S.bool,
    IgnoreCheckIDs: stringArray,
    Near: S.string,
    Tags: stringArray,
    NodeMeta: stringMap,
    ServiceMeta: stringMap,
    Connect: S.any,
  }),
  DNS: S.struct({ TTL: S.string }),
});

/** `structs.CoordinateUpdateRequest` (PUT /v1/coordinate/update); the numbers are kept as sent. */
export const coordinateUpdateSchema: Schema = S.struct({
  Node: S.string,
  Segment: S.string,
  Datacenter: S.string,
  Coord: S.struct({ Vec: S.any, Error: S.any, Adjustment: S.any, Height: S.any }),
});

/** Legacy `structs.ACL` (PUT /v1/acl/create and /v1/acl/update). */
/** `/v1/operator/keyring` install/use/remove: `{"Key": "<base64>"}`. */
export const keyringSchema: Schema = S.struct({ Key: S.string });

export const aclSchema: Schema = S.struct({ ID: S.string, Name: S.string, Type: S.string, Rules: S.string });
