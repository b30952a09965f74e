/**
 * The RPC call-id rule (issue 13): an agent takes an RPC's answer only for a call it still waits for, by
 * its id and from the server it asked — and a process of the agent does not reuse its predecessor's ids,
 * because a server answers an RPC to the process that sent it by the id alone and may answer after that
 * process restarted (a blocking read parked on the server, a reply re-sent when the connection dropped).
 * Each start draws its ids from the start's nonce (core/types.ts startNonce; state.ts callIdBaseOf).
 *
 * How: a client agent machine is driven by hand, twice — an old process that sends a read of k0 to s1
 * and dies, and a new one started from the same (empty) disk that sends a read of k1 to s1. s1's answer
 * to the old read reaches the new process first. With different nonces the new process drops it and
 * answers its read with s1's answer to it; with the same nonce (what ids restarting at 1 did) the same
 * test shows the old answer taken for the new read: the rule is the ids' to keep.
 */
import { describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from './api.js';
import { handDrivenClient } from './testkit.js';
import type { AgentMessage } from './rpc.js';
import type { ServerResult } from './ops.js';
import { callIdBaseOf } from './state.js';

/** One process of the client agent c1: its state, and a step that returns the effects. */
function startProcess(startNonce: number) {
  const { step } = handDrivenClient(startNonce);
  let nowMs = 0;
  /** A client's read of `key`: the id of the RPC it became. */
  const read = (requestId: number, key: string): number => {
    const request: AgentRequest = { type: 'kv.get', key, read: { consistency: 'default' } };
    const sent = step({ kind: 'request', nowMs: ++nowMs, requestId, request }).filter((e) => e.kind === 'send');
    expect(sent).toHaveLength(1);
    const message = (sent[0] as { message: AgentMessage }).message;
    expect(message.t).toBe('rpc');
    return (message as { id: number }).id;
  };
  /** s1's answer to RPC `id` arrives: the replies the agent gave its clients. */
  const answer = (id: number, result: ServerResult): { requestId: number; response: AgentResponse }[] =>
    step({ kind: 'message', nowMs: ++nowMs, from: 's1', message: { t: 'rpcReply', id, result } }).flatMap((e) =>
      e.kind === 'reply' ? [{ requestId: e.requestId, response: e.response as AgentResponse }] : [],
    );
  return { read, answer };
}

/** s1's answer to a read of `key`: the entry holds `value`. */
function entryOf(key: string, value: string, index: number): ServerResult {
  const entry = { Key: key, Value: new TextEncoder().encode(value), Flags: 0, LockIndex: 0, Session: '' };
  return {
    ok: true,
    index,
    value: { ...entry, CreateIndex: index, ModifyIndex: index },
    knownLeader: true,
    lastContactMs: 0,
  };
}

const keyOf = (response: AgentResponse): unknown => (response.body as { Key: string }[])[0]!.Key;

describe('RPC call ids across restarts', () => {
  it('a new process does not take the answer to its predecessor’s call for its own', () => {
    const old = startProcess(1_000);
    const oldId = old.read(1, 'k0');
    const fresh = startProcess(987_654_321);
    const newId = fresh.read(1, 'k1');
    expect(newId).not.toBe(oldId);
    // s1 answers the old process's read of k0 (parked, or re-sent after the connection dropped): dropped.
    expect(fresh.answer(oldId, entryOf('k0', 'zero', 5))).toEqual([]);
    // Its own answer is its client's.
    const replies = fresh.answer(newId, entryOf('k1', 'one', 6));
    expect(replies).toHaveLength(1);
    expect(keyOf(replies[0]!.response)).toBe('k1');
  });

  it('with the same ids in both processes (ids restarting at one base), the old answer is taken: the hazard', () => {
    const old = startProcess(0);
    const oldId = old.read(1, 'k0');
    const fresh = startProcess(0);
    expect(fresh.read(1, 'k1')).toBe(oldId);
    const replies = fresh.answer(oldId, entryOf('k0', 'zero', 5));
    expect(replies).toHaveLength(1);
    expect(keyOf(replies[0]!.response)).toBe('k0'); // the read of k1 answered with k0's entry
  });

  it('call ids start at the nonce’s base, a safe integer for every nonce the drivers draw', () => {
    expect(callIdBaseOf(0)).toBe(1);
    expect(callIdBaseOf(2 ** 48 - 1)).toBe(2 ** 48);
    expect(Number.isSafeInteger(callIdBaseOf(2 ** 48 - 1) + 2 ** 52)).toBe(true);
    for (const bad of [-1, 2 ** 48, 1.5, Number.NaN]) expect(() => callIdBaseOf(bad)).toThrow(/start nonce/);
  });
});
