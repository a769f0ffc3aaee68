export { fmix32, hashString, hashU32, mix32 } from './hash.js';
export { rendezvousOwners, score, topK, weightedScore } from './rendezvous.js';
