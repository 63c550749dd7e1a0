// Ready is derived from the conditions the reconciler owns (Stalled, KeyFailed, AccountFailed) or, when all went well, from what
// the key handler reports; nothing else writes Ready.
import { KerberosKeyCondition as C } from "../../api/kerberoskey.js";
import { getCondition, setCondition, type Condition, type ConditionInput } from "../../runtime/conditions.js";

export interface Success {
  reason: string;
  message: string;
}

export function readyCondition(conditions: Condition[] | undefined, success?: Success): ConditionInput {
  for (const type of [C.Stalled, C.KeyFailed, C.AccountFailed]) {
    const c = getCondition(conditions, type);
    if (c?.status === "True") return { type: C.Ready, status: "False", reason: c.reason, message: c.message };
  }
  if (success) return { type: C.Ready, status: "True", ...success };
  return { type: C.Ready, status: "Unknown", reason: "Progressing", message: "reconciling" };
}

export function withReady(conditions: Condition[] | undefined, generation?: number, success?: Success): Condition[] {
  return setCondition(conditions, readyCondition(conditions, success), generation);
}
