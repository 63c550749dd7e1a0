// Ready is derived from the conditions the steps own; steps never write Ready themselves.
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { getCondition, setCondition, type Condition, type ConditionInput } from "../../runtime/conditions.js";

export function readyCondition(conditions: Condition[] | undefined): ConditionInput {
  const stalled = getCondition(conditions, T.Stalled);
  if (stalled?.status === "True") return { type: T.Ready, status: "False", reason: stalled.reason, message: stalled.message };
  const provisioned = getCondition(conditions, T.Provisioned);
  if (provisioned?.status !== "True") {
    return { type: T.Ready, status: "False", reason: provisioned?.reason ?? Reason.Progressing, message: provisioned?.message ?? "provisioning" };
  }
  const reporting = getCondition(conditions, T.Reporting);
  if (reporting?.status === "False") return { type: T.Ready, status: "False", reason: reporting.reason, message: reporting.message };
  const bootstrapped = getCondition(conditions, T.Bootstrapped)?.status === "True";
  return {
    type: T.Ready, status: "True", reason: Reason.Succeeded,
    message: bootstrapped ? "edge cluster is bootstrapped and reporting" : "provisioned; waiting for the edge cluster to be bootstrapped",
  };
}

export function withReady(conditions: Condition[] | undefined, generation?: number): Condition[] {
  return setCondition(conditions, readyCondition(conditions), generation);
}
