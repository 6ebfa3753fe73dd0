// A stand-in for the generated bindings in component tests: every command is a mock that
// answers like the real one ({status: "ok", data} or {status: "error", error}), and the
// tasksChanged event can be fired by hand. setup.ts puts it in place of ../bindings. The real
// backend is exercised end to end in tests/desktop/workbench.e2e.mjs. Events fire by name.
import { vi } from "vitest";
import type { CommandError, Task, TaskTreeNode } from "../api";

export const backend = (() => {
  const listeners: Array<(e: unknown) => void> = [];
  const names = [
    "vaultStatus", "vaultRetry", "vaultInit", "windowOpen",
    "taskCreate", "taskEdit", "taskMove", "taskDependencyAdd", "taskDependencyRemove",
    "taskTransition", "taskShow", "taskTree", "taskPlan", "taskNext",
    "orchestrate", "orchestrationsList", "orchestrationStop",
    "roleList", "canonCreate", "canonEdit", "canonList", "shapeCreate", "shapeEdit", "shapeList",
    "auditTail", "auditVerify", "grantAdd", "grantList", "grantRevoke",
    "projectAdd", "projectList", "projectRemove", "projectWatch", "projectPickFolder", "ingest",
    "search", "documentShow", "documentPreview", "documentOpen", "related", "hookAdd", "hookList", "hookRemove",
    "playsList", "runPreview", "runPlay", "runCancel", "runsList", "runShow",
    "assetsList", "assetShow", "assetBank", "assetReview", "assetPromote", "assetExport",
    "assetLineage", "assetsFrom", "keysList", "keySet", "keyRemove", "keyTest",
    "providersList", "providerAdd", "providerRemove", "providerTest", "routesList", "routeSet",
    "halt", "resume",
  ] as const;
  const commands = Object.fromEntries(names.map((n) => [n, vi.fn()])) as Record<
    (typeof names)[number],
    ReturnType<typeof vi.fn>
  >;
  const byEvent: Record<string, Array<(e: unknown) => void>> = {};
  const event = (name: string) => ({
    listen: vi.fn(async (cb: (e: unknown) => void) => {
      const list = (byEvent[name] ??= []);
      list.push(cb);
      if (name === "tasksChanged") listeners.push(cb);
      return () => {
        list.splice(list.indexOf(cb), 1);
        if (name === "tasksChanged") listeners.splice(listeners.indexOf(cb), 1);
      };
    }),
  });
  return {
    commands,
    listeners,
    byEvent,
    events: {
      tasksChanged: event("tasksChanged"),
      projectsChanged: event("projectsChanged"),
      ingestProgressed: event("ingestProgressed"),
      runProgressed: event("runProgressed"),
      assetsChanged: event("assetsChanged"),
      grantsChanged: event("grantsChanged"),
    },
  };
})();

/** Fires an event by name with a payload, as the backend would. */
export function fire(name: string, payload: unknown) {
  for (const listener of [...(backend.byEvent[name] ?? [])]) listener({ payload });
}

export const ok = <T,>(data: T) => Promise.resolve({ status: "ok" as const, data });

export function refusal(code: string, message: string, details: unknown = {}) {
  const error = { error: { code, details }, kind: "refused", message } as unknown as CommandError;
  return Promise.resolve({ status: "error" as const, error });
}

export function task(id: number, title: string, state: Task["state"] = "pending", extra: Partial<Task> = {}): Task {
  return {
    id,
    title,
    description: "",
    state,
    parent_id: null,
    role: null,
    play: null,
    priority: 0,
    reason: null,
    waiting: null,
    orchestration: null,
    created_at: 1_700_000_000_000,
    updated_at: 1_700_000_000_000,
    ...extra,
  };
}

const ALLOWED: Record<Task["state"], TaskTreeNode["allowed_actions"]> = {
  pending: ["activate", "cancel"],
  active: ["start", "cancel"],
  in_progress: ["block", "complete", "fail", "cancel"],
  blocked: ["unblock", "cancel"],
  completed: [],
  failed: ["reset", "cancel"],
  cancelled: [],
};

export function node(t: Task, children: TaskTreeNode[] = [], dependsOn: number[] = []): TaskTreeNode {
  return { ...t, depends_on: dependsOn, allowed_actions: ALLOWED[t.state], children };
}

export function fireTasksChanged() {
  for (const listener of [...backend.listeners]) listener({ payload: {} });
}

export function resetBackend() {
  for (const fn of Object.values(backend.commands)) fn.mockReset();
  backend.listeners.length = 0;
  for (const key of Object.keys(backend.byEvent)) delete backend.byEvent[key];
}
