/**
 * An unbounded async iterable fed by `push`: the user messages of a session,
 * handed to SDKs that read their input as an `AsyncIterable` (Claude's
 * streaming-input mode). `close` ends the iteration after what was pushed.
 */
export class InputQueue<A> implements AsyncIterable<A> {
  private readonly items: Array<A> = []
  private readonly waiters: Array<(result: IteratorResult<A>) => void> = []
  private closed = false

  /** Adds an item; false when the queue is closed (the item is dropped). */
  push(item: A): boolean {
    if (this.closed) return false
    const waiter = this.waiters.shift()
    if (waiter !== undefined) waiter({ value: item, done: false })
    else this.items.push(item)
    return true
  }

  close(): void {
    this.closed = true
    for (const waiter of this.waiters.splice(0)) waiter({ value: undefined, done: true })
  }

  get isClosed(): boolean {
    return this.closed
  }

  [Symbol.asyncIterator](): AsyncIterator<A> {
    return {
      next: () => {
        const item = this.items.shift()
        if (item !== undefined) return Promise.resolve({ value: item, done: false })
        if (this.closed) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => this.waiters.push(resolve))
      },
      return: () => {
        this.close()
        return Promise.resolve({ value: undefined, done: true })
      }
    }
  }
}
