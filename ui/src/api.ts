// The one way views talk to the backend: the generated bindings, named as the UI sees them
// (what commands answer, i.e. the `_Serialize` side), with failures turned into text a view can
// put next to the control that caused them.
import type * as B from "./bindings";

export { commands, events } from "./bindings";

export type Status = B.Status_Serialize;
export type Task = B.Task_Serialize;
export type TaskTreeNode = B.TaskTreeNode_Serialize;
export type TaskAction = B.TaskAction;
export type OrchestrationView = B.OrchestrationView_Serialize;
export type TaskPlan = B.TaskPlan_Serialize;
export type PlanNode = B.PlanNode_Serialize;
export type Role = B.Role_Serialize;
export type Event = B.Event;
export type GrantView = B.GrantView_Serialize;
export type GrantAdd = B.GrantAdd_Deserialize;
export type Capability = B.Capability;
export type Verification = B.Verification_Serialize;
export type CanonBlock = B.CanonBlock;
export type Shape = B.Shape;
export type Tier = B.Tier;
export type ShapeKind = B.ShapeKind;
export type CommandError = B.CommandError_Serialize;
export type ProjectView = B.ProjectView_Serialize;
export type IngestProgress = B.IngestProgress;
export type IngestReport = B.IngestReport_Serialize;
export type SearchHit = B.SearchHit_Serialize;
export type SearchMode = B.SearchMode;
export type Explanation = B.Explanation;
export type DocumentKind = B.DocumentKind;
export type DocumentView = B.DocumentView_Serialize;
export type Media = B.Media_Serialize;
export type Preview = B.Preview;
export type RelatedDocument = B.RelatedDocument;

/** What a command answers: its data, or the core's error with its code and own words. */
export type Answer<T> = { status: "ok"; data: T } | { status: "error"; error: CommandError };

/** A failure's words for display, with its stable code. */
function describe(error: CommandError): string {
  return `${error.message} (${error.error.code})`;
}

/**
 * Runs a command; on failure hands the message to `onError` and returns null. Framework-level
 * failures (a refused permission, say) arrive as thrown strings and are shown the same way.
 */
export async function attempt<T>(
  call: () => Promise<Answer<T>>,
  onError: (message: string) => void,
): Promise<T | null> {
  try {
    const answer = await call();
    if (answer.status === "ok") {
      onError("");
      return answer.data;
    }
    onError(describe(answer.error));
  } catch (thrown) {
    onError(thrown instanceof Error ? thrown.message : String(thrown));
  }
  return null;
}

export type Play = B.Play_Serialize;
export type Parameter = B.Parameter_Serialize;
export type RunPreview = B.RunPreview;
export type StepPreview = B.StepPreview;
export type RunEvent = B.RunEvent_Serialize;
export type RunView = B.RunView_Serialize;
export type StepView = B.StepView_Serialize;
export type GateResult = B.GateResult;
export type AssetView = B.AssetView_Serialize;
export type AssetDetail = B.AssetDetail_Serialize;
export type AssetLineage = B.AssetLineage_Serialize;
export type AssetState = B.AssetState;
export type ReviewAction = B.ReviewAction;
export type KeyView = B.KeyView_Serialize;
export type ProviderView = B.ProviderView_Serialize;
export type ProviderCheck = B.ProviderCheck_Serialize;
export type WireFormat = B.WireFormat;
export type Route = B.Route;
export type SwitchState = B.SwitchState;
export type Value = B.Value;

/** The error code of a failed answer, for the few refusals a view answers differently. */
export function codeOf<T>(answer: Answer<T>): string | null {
  return answer.status === "error" ? answer.error.error.code : null;
}
