/**
 * The simulator's event queue: a binary min-heap ordered by (time, sequence). The sequence number is
 * assigned at insertion, so events scheduled for the same microsecond run in the order they were
 * scheduled — ties never depend on heap internals, which keeps runs deterministic.
 *
 * The keys live in two arrays of plain numbers beside the items, so that sifting compares numbers
 * held unboxed in the arrays instead of loading each item's fields (the heap ran on every event).
 */
export interface Scheduled {
  atUs: number;
  seq: number;
}

export class EventHeap<T extends Scheduled> {
  private readonly items: T[] = [];
  private readonly atUs: number[] = [];
  private readonly seqs: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const { items, atUs, seqs } = this;
    const at = item.atUs;
    const seq = item.seq;
    let i = items.length;
    items.push(item);
    atUs.push(at);
    seqs.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pa = atUs[parent]!;
      if (!(at < pa || (at === pa && seq < seqs[parent]!))) break;
      items[i] = items[parent]!;
      atUs[i] = pa;
      seqs[i] = seqs[parent]!;
      i = parent;
    }
    items[i] = item;
    atUs[i] = at;
    seqs[i] = seq;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Time (µs) of the earliest event; Infinity when the heap is empty. */
  peekAtUs(): number {
    return this.items.length > 0 ? this.atUs[0]! : Infinity;
  }

  pop(): T | undefined {
    const { items, atUs, seqs } = this;
    const top = items[0];
    const last = items.pop();
    const lastAt = atUs.pop()!;
    const lastSeq = seqs.pop()!;
    const n = items.length;
    if (n === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      let childAt = atUs[left]!;
      if (right < n) {
        const rightAt = atUs[right]!;
        if (rightAt < childAt || (rightAt === childAt && seqs[right]! < seqs[left]!)) {
          child = right;
          childAt = rightAt;
        }
      }
      if (!(childAt < lastAt || (childAt === lastAt && seqs[child]! < lastSeq))) break;
      items[i] = items[child]!;
      atUs[i] = childAt;
      seqs[i] = seqs[child]!;
      i = child;
    }
    items[i] = last;
    atUs[i] = lastAt;
    seqs[i] = lastSeq;
    return top;
  }
}
