// The task workbench: tree and chips, transitions, refusals beside their control, creation,
// dependencies, and refresh on the tasksChanged event.
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { backend, fireTasksChanged, node, ok, refusal, resetBackend, task } from "./backend";
import { TasksView } from "../views/TasksView";

const { commands } = backend;

function serve(tree: ReturnType<typeof node>[], ready = [] as ReturnType<typeof task>[], orchestrations: unknown[] = []) {
  commands.taskTree.mockImplementation(() => ok(tree));
  commands.taskNext.mockImplementation(() => ok(ready));
  commands.orchestrationsList.mockImplementation(() => ok(orchestrations));
}

/** An orchestration view as the core answers it. */
function orchestration(id: number, root: number, extra: Record<string, unknown> = {}) {
  return {
    id,
    root,
    principal: "owner",
    state: "running",
    spawned: 0,
    started_at: 1_700_000_000_000,
    finished_at: null,
    tasks: { pending: 0, active: 0, in_progress: 1, blocked: 1, completed: 2, failed: 0, cancelled: 0 },
    in_review: [],
    jobs: { ready: 0, waiting: 0, leased: 0, dead: 0 },
    dead_letters: [],
    held: [],
    idle: true,
    ...extra,
  };
}

describe("TasksView", () => {
  beforeEach(resetBackend);

  it("runs a tree with the scheduler and shows what waits for a person", async () => {
    const pilot = task(1, "Pilot", "in_progress", { orchestration: 1 });
    const review = task(2, "Review", "blocked", {
      parent_id: 1,
      orchestration: 1,
      waiting: { kind: "approval", asset: 7 },
    });
    const blocked = task(3, "Polish", "blocked", {
      parent_id: 1,
      orchestration: 1,
      waiting: { kind: "dependency", task: 4 },
    });
    const failed = task(4, "Research", "failed", { parent_id: 1, orchestration: 1 });
    serve(
      [node(pilot, [node(review), node(blocked), node(failed)])],
      [],
      [orchestration(1, 1, { in_review: [{ task: 2, title: "Review", asset: 7 }] })],
    );
    commands.orchestrate.mockImplementation(() => ok(orchestration(1, 1)));
    render(<TasksView />);
    expect(await screen.findByText("waits for your approval of asset 7")).toHaveClass("chip", "waiting");
    expect(screen.getByText("waits on #4 Research (failed)")).toBeInTheDocument();
    const waiting = screen.getByRole("list", { name: "Waiting for your approval in orchestration 1" });
    expect(waiting).toHaveTextContent("#2 Review: approve or reject asset 7");
    expect(screen.queryByRole("button", { name: "Run task 2 with the scheduler" })).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Run task 1 with the scheduler" }));
    expect(commands.orchestrate).toHaveBeenCalledWith({ root: 1 });
    commands.orchestrationStop.mockImplementation(() => refusal("INVALID_INPUT", "orchestration 1 is finished, not running"));
    await userEvent.click(screen.getByRole("button", { name: "Stop orchestration 1" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "orchestration 1 is finished, not running (INVALID_INPUT)",
    );
  });

  it("shows the tree with state chips and only the transitions the state allows", async () => {
    serve(
      [node(task(1, "Outline"), [node(task(2, "Scene list", "in_progress", { parent_id: 1 }))])],
      [task(1, "Outline")],
    );
    render(<TasksView />);
    const row = await screen.findByText("Scene list");
    const item = row.closest("li") as HTMLElement;
    expect(within(item).getByText("in progress")).toHaveClass("chip", "state-in_progress");
    const group = within(item).getByRole("group", { name: "Transitions for task 2" });
    const labels = within(group).getAllByRole("button").map((b) => b.textContent);
    expect(labels).toEqual(["Block", "Complete", "Fail", "Cancel"]);
    expect(screen.getByRole("list", { name: "Ready tasks" })).toHaveTextContent("Outline");
  });

  it("says why nothing is ready: waiting on dependencies, or nothing open at all", async () => {
    serve([node(task(1, "Outline", "active"), [], [2]), node(task(2, "Research", "blocked"))]);
    const { unmount } = render(<TasksView />);
    expect(await screen.findByText(/every open task waits on something/)).toBeInTheDocument();
    unmount();
    serve([node(task(1, "Outline", "completed")), node(task(2, "Research", "cancelled"))]);
    render(<TasksView />);
    expect(await screen.findByText(/there are no open tasks/)).toBeInTheDocument();
  });

  it("runs a transition on the row's task", async () => {
    serve([node(task(4, "Draft"))]);
    commands.taskTransition.mockImplementation(() => ok(task(4, "Draft", "active")));
    render(<TasksView />);
    await userEvent.click(await screen.findByRole("button", { name: "Activate task 4" }));
    expect(commands.taskTransition).toHaveBeenCalledWith({ id: 4, action: "activate", reason: null });
  });

  it("shows a refusal beside the row that caused it, in the core's words and code", async () => {
    serve([node(task(1, "Outline")), node(task(2, "Draft", "active"), [], [1])]);
    commands.taskTransition.mockImplementation(() =>
      refusal("DEPENDENCIES_INCOMPLETE", "task 2 waits on unfinished tasks: 1", { id: 2, waiting_on: [1] }),
    );
    render(<TasksView />);
    await userEvent.click(await screen.findByRole("button", { name: "Start task 2" }));
    const item = screen.getByText("Draft").closest("li") as HTMLElement;
    expect(await within(item).findByRole("alert")).toHaveTextContent(
      "task 2 waits on unfinished tasks: 1 (DEPENDENCIES_INCOMPLETE)",
    );
    const other = screen.getByText("Outline").closest("li") as HTMLElement;
    expect(within(other).queryByRole("alert")).toBeNull();
  });

  it("creates a task under the chosen parent and reloads when tasks change", async () => {
    serve([node(task(1, "Book"))]);
    commands.taskCreate.mockImplementation(() => ok(task(2, "Chapter 1", "pending", { parent_id: 1 })));
    render(<TasksView />);
    await screen.findByText("Book");
    await userEvent.type(screen.getByLabelText("Title"), "Chapter 1");
    await userEvent.selectOptions(screen.getByLabelText("Under"), "1");
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(commands.taskCreate).toHaveBeenCalledWith(
      expect.objectContaining({ title: "Chapter 1", parent: 1, depends_on: [] }),
    );
    expect(screen.getByLabelText("Title")).toHaveValue("");

    serve([node(task(1, "Book"), [node(task(2, "Chapter 1", "pending", { parent_id: 1 }))])]);
    fireTasksChanged();
    expect(await screen.findByText("Chapter 1")).toBeInTheDocument();
  });

  it("shows a refused creation under the form", async () => {
    serve([]);
    commands.taskCreate.mockImplementation(() =>
      refusal("DEPTH_EXCEEDED", "tasks nest at most 10 deep", { limit: 10 }),
    );
    render(<TasksView />);
    await userEvent.type(await screen.findByLabelText("Title"), "Too deep");
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));
    const form = screen.getByRole("form", { name: "New task" });
    expect(await within(form).findByRole("alert")).toHaveTextContent("tasks nest at most 10 deep (DEPTH_EXCEEDED)");
    expect(screen.getByLabelText("Title")).toHaveValue("Too deep");
  });

  it("adds and removes dependencies from the row", async () => {
    serve([node(task(1, "Outline")), node(task(2, "Draft"), [], [1]), node(task(3, "Edit"))]);
    commands.taskDependencyAdd.mockImplementation(() => ok({}));
    commands.taskDependencyRemove.mockImplementation(() => ok({}));
    render(<TasksView />);
    await userEvent.click(await screen.findByRole("button", { name: "Remove dependency of task 2 on task 1" }));
    expect(commands.taskDependencyRemove).toHaveBeenCalledWith({ id: 2, depends_on: 1 });

    await userEvent.click(screen.getByText("More", { selector: '[aria-label="More for task 3"]' }));
    await userEvent.selectOptions(screen.getByLabelText("Dependency for task 3"), "2");
    await userEvent.click(screen.getByRole("button", { name: "Add dependency to task 3" }));
    expect(commands.taskDependencyAdd).toHaveBeenCalledWith({ id: 3, depends_on: 2 });
  });

  it("moves a task with the keyboard-usable Move control and shows a cycle refusal", async () => {
    serve([node(task(1, "Book"), [node(task(2, "Part", "pending", { parent_id: 1 }))])]);
    commands.taskMove.mockImplementation(() => refusal("CYCLE", "moving task 1 under 2 would make a cycle"));
    render(<TasksView />);
    await screen.findByText("Part");
    await userEvent.selectOptions(screen.getByLabelText("Move task 1 under"), "2");
    await userEvent.click(screen.getByRole("button", { name: "Move task 1" }));
    expect(commands.taskMove).toHaveBeenCalledWith({ id: 1, parent: 2 });
    expect(await screen.findByText(/would make a cycle \(CYCLE\)/)).toBeInTheDocument();
  });

  it("moves a task by dragging its row onto another row, or onto the top-level zone", async () => {
    serve([node(task(1, "Book")), node(task(2, "Notes"))]);
    commands.taskMove.mockImplementation(() => ok(task(2, "Notes")));
    render(<TasksView />);
    const data = new Map<string, string>();
    const dataTransfer = {
      setData: (type: string, value: string) => data.set(type, value),
      getData: (type: string) => data.get(type) ?? "",
      effectAllowed: "all",
    };
    const row = (id: number) => document.getElementById(`task-${id}`) as HTMLElement;
    await screen.findByText("Notes");
    fireEvent.dragStart(row(2), { dataTransfer });
    fireEvent.dragOver(row(1), { dataTransfer });
    fireEvent.drop(row(1), { dataTransfer });
    await waitFor(() => expect(commands.taskMove).toHaveBeenCalledWith({ id: 2, parent: 1 }));
    fireEvent.drop(screen.getByText(/Drop here to move a task to the top level/), { dataTransfer });
    await waitFor(() => expect(commands.taskMove).toHaveBeenLastCalledWith({ id: 2, parent: null }));
  });

  it("renames a task inline; Escape abandons the edit", async () => {
    serve([node(task(7, "Old name"))]);
    commands.taskEdit.mockImplementation(() => ok(task(7, "New name")));
    render(<TasksView />);
    await userEvent.click(await screen.findByRole("button", { name: "Rename task 7" }));
    const input = screen.getByLabelText("New title for task 7");
    await userEvent.clear(input);
    await userEvent.type(input, "New name{Enter}");
    await waitFor(() =>
      expect(commands.taskEdit).toHaveBeenCalledWith(expect.objectContaining({ id: 7, title: "New name" })),
    );
    await waitFor(() => expect(screen.queryByLabelText("New title for task 7")).toBeNull());

    await userEvent.click(screen.getByRole("button", { name: "Rename task 7" }));
    await userEvent.type(screen.getByLabelText("New title for task 7"), " draft{Escape}");
    expect(screen.queryByLabelText("New title for task 7")).toBeNull();
    expect(commands.taskEdit).toHaveBeenCalledTimes(1);
  });
});
