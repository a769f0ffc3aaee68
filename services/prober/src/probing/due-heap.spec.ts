import { describe, expect, it } from 'vitest';
import { DueHeap, type DueItem } from './due-heap.js';
import { createSeededUniform } from '@cdn-sched/testing';

interface Item extends DueItem {
  id: number;
}

describe('DueHeap', () => {
  it('pops in due order through random pushes, removals and re-keyings', () => {
    const random = createSeededUniform(7);
    const heap = new DueHeap<Item>();
    const live = new Set<Item>();
    for (let i = 0; i < 3000; i++) {
      const op = random();
      const items = [...live];
      if (op < 0.5 || items.length === 0) {
        const item: Item = { id: i, dueAt: Math.floor(random() * 1000), heapIndex: -1 };
        heap.push(item);
        live.add(item);
      } else if (op < 0.7) {
        const item = items[Math.floor(random() * items.length)]!;
        expect(heap.remove(item)).toBe(true);
        expect(heap.remove(item)).toBe(false);
        live.delete(item);
      } else if (op < 0.9) {
        heap.update(items[Math.floor(random() * items.length)]!, Math.floor(random() * 1000));
      } else {
        const top = heap.pop()!;
        expect(top.dueAt).toBe(Math.min(...items.map((x) => x.dueAt)));
        expect(top.heapIndex).toBe(-1);
        live.delete(top);
      }
      expect(heap.size).toBe(live.size);
    }
    const drained: number[] = [];
    for (let item = heap.pop(); item; item = heap.pop()) drained.push(item.dueAt);
    expect(drained).toEqual([...live].map((x) => x.dueAt).sort((a, b) => a - b));
  });

  it('update inserts an absent item and clear forgets every item', () => {
    const heap = new DueHeap<Item>();
    const a: Item = { id: 1, dueAt: 0, heapIndex: -1 };
    heap.update(a, 5);
    expect(heap.has(a)).toBe(true);
    expect(heap.peek()).toBe(a);
    heap.clear();
    expect(heap.size).toBe(0);
    expect(heap.has(a)).toBe(false);
  });
});
