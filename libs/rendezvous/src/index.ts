export { fmix32, hashString, hashU32, mix32 } from './hash.js';
export { rendezvousOwners, score, topK, weightedScore } from './rendezvous.js';
export {
  buildRendezvousTable,
  createRendezvousTableBuilder,
  rendezvousTableBytes,
  rendezvousTableOwner,
  rendezvousTableSize,
  rendezvousTableSlot,
  RendezvousScratch,
  TABLE_HIGH_PLANE_MAX_MEMBERS,
  TABLE_MIN_SLOTS,
  TABLE_SLOTS_PER_MEMBER,
} from './rendezvous-table.js';
export type { RendezvousTable, RendezvousTableBuilder, RendezvousTableHigh } from './rendezvous-table.js';
