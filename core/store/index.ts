/**
 * The replicated state store (Consul's state store) and its blocking-query registry. See README.md in
 * this folder for how the agent drives them.
 */
export {
  createStoreFsm,
  applyCommand,
  storeInvariants,
  type StoreFsm,
  type StoreFsmOptions,
  type StoreSnapshot,
} from './store.js';
export { identicalWriteKeepsModifyIndex } from './kv.js';
export { sessionLockDelayMsMax } from './session.js';
export * from './types.js';
export {
  blockingConfigDefault,
  blockingInvariants,
  cancelReader,
  checkBlockingConfig,
  createBlockingRegistry,
  drainReaders,
  effectiveWaitMs,
  expireReaders,
  mustBlock,
  nextDeadlineMs,
  parkReader,
  releaseReady,
  tooManyBlockingQueries,
  type BlockingConfig,
  type BlockingRegistry,
  type ParkedReader,
  type ParkResult,
} from './watch.js';
