/** Work a shutdown waits for: unregistrations, groups left and holds-again under way. */
export class Outstanding {
  readonly #work = new Set<Promise<void>>();

  /** `work` (which never rejects) is waited for by `settled`. */
  track(work: Promise<void>): void {
    this.#work.add(work);
    void work.then(() => this.#work.delete(work));
  }

  /** Settles once the work tracked now settled. */
  settled(): Promise<void> {
    return Promise.all(this.#work).then(() => {});
  }
}
