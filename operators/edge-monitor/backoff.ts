/**
 * The wait before reconnect attempt number `failures` (0 after a session that was born): the minimum doubled per
 * failure in a row, capped at the maximum, then reduced by up to a quarter at random so that many edge clusters
 * cut off by the same outage do not return in step.
 */
export function retryDelay(failures: number, minDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const exponential = minDelayMs * 2 ** Math.min(failures, 30);
  const capped = Math.min(exponential, maxDelayMs);
  return Math.round(capped * (1 - random() * 0.25));
}
