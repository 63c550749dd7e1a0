// The two Sparkplug counters. Both run 0..255 and wrap to 0.

const WRAP = 256;

/** The bdSeq for the next MQTT CONNECT: one more than the last, 255 → 0, and 0 when there was none. */
export function nextBdSeq(previous: number | undefined): number {
  return previous === undefined ? 0 : (previous + 1) % WRAP;
}

export function isValidSparkplugCounter(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value < WRAP;
}

/** The message `seq`: 0 on every NBIRTH, then one more on every later message of the edge node, 255 → 0. */
export class SequenceCounter {
  private nextValue = 0;

  /** The seq of a new NBIRTH (always 0); the following message gets 1. */
  birth(): number {
    this.nextValue = 1;
    return 0;
  }

  /** The seq of the next message after the NBIRTH. */
  next(): number {
    const value = this.nextValue;
    this.nextValue = (value + 1) % WRAP;
    return value;
  }
}
