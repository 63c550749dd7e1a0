// What graft's custom resources share: the Kubernetes condition schema and list, the object shape, the REST
// coordinates of a namespaced kind in graft's API group.
import { z } from "zod";
import type { KubeObject } from "../runtime/kube.js";
import { GROUP } from "./constants.js";

export const condition = z.object({
  type: z.string().max(316),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string().max(1024),
  message: z.string().max(32768),
  lastTransitionTime: z.string().meta({ format: "date-time" }),
  observedGeneration: z.number().int().min(0).optional(),
});

/** status.conditions: a list map keyed by type, as the API conventions ask. */
export const conditionList = () =>
  z.array(condition).optional().meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] });

export interface CustomObject<Spec, Status> extends KubeObject {
  spec: Spec;
  status?: Status;
}

export function namespacedKind<const V extends string, const P extends string, const K extends string>(version: V, plural: P, kind: K) {
  return { group: GROUP, version, plural, kind, namespaced: true } as const;
}

type PrinterColumnOptions = { name?: string; priority?: number; description?: string };

/** A printer column with a condition's status (named after the condition unless told otherwise). */
export function conditionStatusColumn(type: string, options: PrinterColumnOptions = {}) {
  return { name: type, type: "string", jsonPath: `.status.conditions[?(@.type=="${type}")].status`, ...options };
}

/** A printer column with a condition's message, by default the Ready message under "Status" in `-o wide`. */
export function conditionMessageColumn(type = "Ready", options: PrinterColumnOptions = { name: "Status", priority: 1 }) {
  return { name: "Status", type: "string", jsonPath: `.status.conditions[?(@.type=="${type}")].message`, ...options };
}
