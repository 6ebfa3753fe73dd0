// The one way views talk to the backend: the generated bindings, named as the UI sees them
// (what commands answer, i.e. the `_Serialize` side), with failures turned into text a view can
// put next to the control that caused them.
import type * as B from "./bindings";

export { commands, events } from "./bindings";

export type Status = B.Status_Serialize;
export type Task = B.Task_Serialize;
export type TaskTreeNode = B.TaskTreeNode_Serialize;
export type TaskAction = B.TaskAction;
export type Role = B.Role_Serialize;
export type Event = B.Event;
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
export type DocumentKind = B.DocumentKind;
export type DocumentView = B.DocumentView_Serialize;
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
