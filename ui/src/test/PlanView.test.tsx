// The plan view: opened from a top-level task, it draws the tasks in columns with arrows from
// each dependency, marks the critical path, follows task changes live, and shows a refusal in
// the core's words.
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { backend, fireTasksChanged, node, ok, refusal, resetBackend, task } from "./backend";
import { TasksView } from "../views/TasksView";
import { took } from "../views/PlanView";
import type { PlanNode, Task, TaskPlan } from "../api";

const { commands } = backend;

function planNode(t: Task, extra: Partial<PlanNode> = {}): PlanNode {
  return {
    ...t,
    column: 0,
    critical: false,
    outside: false,
    container: false,
    work_ms: 1_000,
    measured: false,
    start_ms: 0,
    finish_ms: 1_000,
    ...extra,
  };
}

/** Pilot (1) over Outline (2) → Draft (3), and Logline (4) beside them. */
function pilotPlan(draftState: Task["state"]): TaskPlan {
  return {
    root: 1,
    nodes: [
      planNode(task(1, "Pilot", "in_progress"), { container: true, critical: true, work_ms: 0, finish_ms: 3_500 }),
      planNode(task(2, "Outline", "completed", { parent_id: 1 }), { critical: true, measured: true, work_ms: 1_500, finish_ms: 1_500 }),
      planNode(task(3, "Draft", draftState, { parent_id: 1 }), { column: 1, critical: true, work_ms: 2_000, start_ms: 1_500, finish_ms: 3_500 }),
      planNode(task(4, "Logline", "pending", { parent_id: 1 })),
    ],
    edges: [{ from: 2, to: 3, critical: true }],
    critical_path: [2, 3],
    length_ms: 3_500,
    remaining_ms: 2_000,
    stuck: [],
  };
}

describe("PlanView", () => {
  beforeEach(resetBackend);

  it("draws the plan with its critical path and follows task changes", async () => {
    const pilot = task(1, "Pilot", "in_progress");
    commands.taskTree.mockImplementation(() =>
      ok([node(pilot, [node(task(2, "Outline", "completed", { parent_id: 1 })), node(task(3, "Draft", "pending", { parent_id: 1 }))])]),
    );
    commands.taskNext.mockImplementation(() => ok([]));
    commands.orchestrationsList.mockImplementation(() => ok([]));
    commands.taskPlan.mockImplementation(() => ok(pilotPlan("pending")));
    render(<TasksView />);

    await userEvent.click(await screen.findByRole("button", { name: "Plan of task 1" }));
    expect(commands.taskPlan).toHaveBeenCalledWith(1);
    const plan = await screen.findByRole("region", { name: /Plan of #1 Pilot/ });
    expect(within(plan).getByText(/The critical path takes 3.5 s; 2.0 s of it is left/)).toBeInTheDocument();
    const path = within(plan).getByRole("list", { name: "Critical path" });
    expect(within(path).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["#2 Outline", "#3 Draft"]);

    const box = (id: number) => document.getElementById(`plan-node-${id}`) as Element;
    expect(box(3)).toHaveAttribute("data-critical", "true");
    expect(box(4)).toHaveAttribute("data-critical", "false");
    expect(box(1).getAttribute("class")).toContain("container");
    expect(box(2).textContent).toContain("completed · 1.5 s");
    expect(box(3).textContent).toContain("pending · about 2.0 s");
    // Draft sits one column right of Outline, and the arrow between them is critical.
    const x = (id: number) => Number(/translate\((\d+)/.exec(box(id).getAttribute("transform") ?? "")?.[1]);
    expect(x(3)).toBeGreaterThan(x(2));
    expect(document.getElementById("plan-edge-2-3")?.getAttribute("class")).toBe("edge critical");

    // The scheduler starts Draft: the plan reloads and shows it.
    commands.taskPlan.mockImplementation(() => ok(pilotPlan("in_progress")));
    fireTasksChanged();
    await waitFor(() => expect(box(3)).toHaveAttribute("data-state", "in_progress"));

    await userEvent.click(within(plan).getByRole("button", { name: "Close the plan" }));
    expect(screen.queryByRole("region", { name: /Plan of #1/ })).toBeNull();
  });

  it("shows a refusal in the core's words", async () => {
    commands.taskTree.mockImplementation(() =>
      ok([node(task(1, "Pilot"), [node(task(2, "Outline", "pending", { parent_id: 1 }))])]),
    );
    commands.taskNext.mockImplementation(() => ok([]));
    commands.orchestrationsList.mockImplementation(() => ok([]));
    commands.taskPlan.mockImplementation(() => refusal("NOT_FOUND", "no task 1"));
    render(<TasksView />);
    await userEvent.click(await screen.findByRole("button", { name: "Plan of task 1" }));
    expect(await screen.findByText("no task 1 (NOT_FOUND)")).toBeInTheDocument();
  });

  it("says durations the way people read them", () => {
    expect([took(850), took(4_200), took(185_000)]).toEqual(["850 ms", "4.2 s", "3 min 5 s"]);
  });
});
