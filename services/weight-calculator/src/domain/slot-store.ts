/**
 * Storage of the per-(node, prober) probe state, as a struct of typed arrays indexed by slot.
 *
 * Ingest runs ≥ 100 k times a second. Keeping each pair's state in one object per pair would cost
 * a property-map lookup per field and leave 20 k+ small objects for the GC to trace on every
 * major collection; typed arrays cost one index computation, keep the state of a pair within a
 * few cache lines, and are invisible to the GC. Applying a result allocates nothing.
 *
 * Slots are recycled through a free list when a node is removed or a prober stops reporting for
 * good, and the arrays double when full (amortised O(1) allocation of a slot). Because growing
 * replaces the arrays, callers read `store.hysteresis` etc. afresh after any `allocate`.
 */
export interface SlotStore {
  /** Prober index of each slot (-1 when free). */
  prober: Int32Array;
  /** Packed hysteresis state (health-state.ts). */
  hysteresis: Uint32Array;
  /** Loss window bit mask (probe-stats.ts). */
  lossMask: Uint32Array;
  /** RTT EWMA, milliseconds; NaN until the first successful probe. */
  rttEwmaMs: Float64Array;
  /** `started_at_ms` of the last applied result (prober clock), for ordering; 0 when none. */
  lastStartedAtMs: Float64Array;
  /** When the last result was applied (weight-calculator clock), for freshness. */
  lastReceivedAtMs: Float64Array;
  /** Slots in use. */
  readonly liveCount: number;
  /** Slots the arrays can hold before growing. */
  readonly capacity: number;
  /** A fresh slot for `proberIndex`, its hysteresis set to `initialHysteresis`. */
  allocate(proberIndex: number, initialHysteresis: number): number;
  /** Returns `slot` to the free list. */
  release(slot: number): void;
}

/** Creates an empty store with room for `initialCapacity` slots (defaults to 1024; it grows as needed). */
export function createSlotStore(initialCapacity = 1024): SlotStore {
  let capacity = Math.max(1, Math.floor(initialCapacity));
  let freeList = new Int32Array(capacity);
  let freeCount = 0;
  let highWater = 0;
  let liveCount = 0;

  const store: SlotStore = {
    prober: new Int32Array(capacity).fill(-1),
    hysteresis: new Uint32Array(capacity),
    lossMask: new Uint32Array(capacity),
    rttEwmaMs: new Float64Array(capacity),
    lastStartedAtMs: new Float64Array(capacity),
    lastReceivedAtMs: new Float64Array(capacity),
    get liveCount() {
      return liveCount;
    },
    get capacity() {
      return capacity;
    },
    allocate(proberIndex, initialHysteresis) {
      let slot: number;
      if (freeCount > 0) {
        slot = freeList[--freeCount];
      } else {
        if (highWater === capacity) grow();
        slot = highWater++;
      }
      liveCount++;
      store.prober[slot] = proberIndex;
      store.hysteresis[slot] = initialHysteresis;
      store.lossMask[slot] = 0;
      store.rttEwmaMs[slot] = NaN;
      store.lastStartedAtMs[slot] = 0;
      store.lastReceivedAtMs[slot] = 0;
      return slot;
    },
    release(slot) {
      if (store.prober[slot] === -1) return;
      store.prober[slot] = -1;
      freeList[freeCount++] = slot;
      liveCount--;
    },
  };

  function grow(): void {
    const next = capacity * 2;
    store.prober = copyInto(new Int32Array(next).fill(-1), store.prober);
    store.hysteresis = copyInto(new Uint32Array(next), store.hysteresis);
    store.lossMask = copyInto(new Uint32Array(next), store.lossMask);
    store.rttEwmaMs = copyInto(new Float64Array(next), store.rttEwmaMs);
    store.lastStartedAtMs = copyInto(new Float64Array(next), store.lastStartedAtMs);
    store.lastReceivedAtMs = copyInto(new Float64Array(next), store.lastReceivedAtMs);
    freeList = copyInto(new Int32Array(next), freeList);
    capacity = next;
  }

  return store;
}

function copyInto<T extends Int32Array | Uint32Array | Float64Array>(target: T, source: T): T {
  target.set(source as ArrayLike<number>);
  return target;
}
