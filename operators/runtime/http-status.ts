// Which HTTP answers retrying can fix, and which it cannot: the one rule graft's HTTP clients (ConfigDB, ACS) apply.

/** 5xx, 408 (request timeout) and 429 (too many requests): the same request may well succeed later. */
export const isRetryableStatus = (status: number): boolean => status >= 500 || status === 408 || status === 429;

/** Any other 4xx: the request itself is wrong or not allowed, so sending it again unchanged fails again. */
export const isPermanentRefusal = (status: number): boolean => status >= 400 && status < 500 && !isRetryableStatus(status);
