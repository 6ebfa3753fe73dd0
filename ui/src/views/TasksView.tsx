// Tasks: the tree with state chips, every allowed transition on its row, rename, move (drag or
// the Move control), dependencies, and the ready list; a tree with subtasks can be run by the
// scheduler, its plan shown as a graph with the critical path, and the Scheduler panel shows
// each orchestration and what waits for a person.
// Refusals appear beside the control that caused them, in the core's own words.
import { useCallback, useMemo, useState, type DragEvent } from "react";
import {
  attempt,
  commands,
  events,
  type OrchestrationView,
  type Task,
  type TaskAction,
  type TaskTreeNode,
} from "../api";
import { useReloadOn } from "../useLoaded";
import { PlanView } from "./PlanView";

const ACTION_LABELS: Record<TaskAction, string> = {
  activate: "Activate",
  start: "Start",
  block: "Block",
  unblock: "Unblock",
  complete: "Complete",
  fail: "Fail",
  reset: "Reset",
  cancel: "Cancel",
};

const STATE_LABELS: Record<Task["state"], string> = {
  pending: "pending",
  active: "active",
  in_progress: "in progress",
  blocked: "blocked",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
};

/** Every node of the forest, depth first, with its depth. */
function flatten(nodes: TaskTreeNode[], depth = 0): { node: TaskTreeNode; depth: number }[] {
  return nodes.flatMap((node) => [{ node, depth }, ...flatten(node.children, depth + 1)]);
}

export function TasksView() {
  const [tree, setTree] = useState<TaskTreeNode[]>([]);
  const [ready, setReady] = useState<Task[]>([]);
  const [orchestrations, setOrchestrations] = useState<OrchestrationView[]>([]);
  const [problem, setProblem] = useState("");
  const [planOf, setPlanOf] = useState<number | null>(null);

  const reload = useCallback(async () => {
    const [forest, next, runs] = await Promise.all([
      attempt(() => commands.taskTree(), setProblem),
      attempt(() => commands.taskNext(), setProblem),
      attempt(() => commands.orchestrationsList(), setProblem),
    ]);
    if (forest) setTree(forest);
    if (next) setReady(next);
    if (runs) setOrchestrations(runs);
  }, []);

  useReloadOn(events.tasksChanged, reload);

  const all = useMemo(() => flatten(tree), [tree]);
  const titles = useMemo(() => new Map(all.map(({ node }) => [node.id, node.title])), [all]);

  return (
    <div className="tasks">
      <section aria-labelledby="tasks-title" className="tree-panel">
        <h2 id="tasks-title">Tasks</h2>
        <CreateTask all={all} />
        {problem && <p role="alert" className="error">{problem}</p>}
        {all.length === 0 ? (
          <p className="empty">No tasks yet. Create the first one above.</p>
        ) : (
          <TaskForest nodes={tree} all={all} titles={titles} onPlan={setPlanOf} />
        )}
        {planOf !== null && <PlanView root={planOf} onClose={() => setPlanOf(null)} />}
      </section>
      <aside aria-labelledby="ready-title" className="ready-panel">
        <h2 id="ready-title">Ready next</h2>
        {ready.length === 0 ? (
          <p className="empty">
            {all.some(({ node }) => node.state !== "completed" && node.state !== "cancelled")
              ? "Nothing is ready: every open task waits on something."
              : "Nothing to start: there are no open tasks."}
          </p>
        ) : (
          <ol className="ready" aria-label="Ready tasks">
            {ready.map((t) => (
              <li key={t.id}>
                <span className="id">#{t.id}</span> {t.title} <StateChip state={t.state} />
              </li>
            ))}
          </ol>
        )}
        <Scheduler orchestrations={orchestrations} titles={titles} />
      </aside>
    </div>
  );
}

/** The scheduler's orchestrations: progress, and what waits for a person. */
function Scheduler({ orchestrations, titles }: { orchestrations: OrchestrationView[]; titles: Map<number, string> }) {
  const [problem, setProblem] = useState("");
  const running = orchestrations.filter((o) => o.state === "running");
  return (
    <section aria-labelledby="scheduler-title" className="scheduler">
      <h2 id="scheduler-title">Scheduler</h2>
      {running.length === 0 ? (
        <p className="empty">Nothing is running. Run a task with subtasks to work through it.</p>
      ) : (
        <ul aria-label="Orchestrations">
          {running.map((o) => (
            <li key={o.id} id={`orchestration-${o.id}`}>
              <strong>
                #{o.root} {titles.get(o.root) ?? ""}
              </strong>{" "}
              <span className="counts">
                {o.tasks.completed} completed, {o.tasks.in_progress} running, {o.tasks.failed} failed,{" "}
                {o.tasks.blocked} blocked
              </span>
              {o.in_review.length > 0 && (
                <ul aria-label={`Waiting for your approval in orchestration ${o.id}`}>
                  {o.in_review.map((w) => (
                    <li key={w.task}>
                      #{w.task} {w.title}: approve or reject asset {w.asset} in Assets
                    </li>
                  ))}
                </ul>
              )}
              {o.held.map((h) => (
                <p key={h.task} className="held">
                  #{h.task} waits: {h.reason}
                </p>
              ))}
              <button
                aria-label={`Stop orchestration ${o.id}`}
                onClick={() => void attempt(() => commands.orchestrationStop(o.id), setProblem)}
              >
                Stop
              </button>
            </li>
          ))}
        </ul>
      )}
      {problem && <p role="alert" className="error">{problem}</p>}
    </section>
  );
}

/** What a task the scheduler blocked waits on, in words. */
function waitingText(task: Task, titles: Map<number, string>): string | null {
  const waiting = task.waiting;
  if (!waiting) return null;
  if (waiting.kind === "approval") return `waits for your approval of asset ${waiting.asset}`;
  return `waits on #${waiting.task} ${titles.get(waiting.task) ?? ""} (failed)`.trim();
}

function StateChip({ state }: { state: Task["state"] }) {
  return <span className={`chip state-${state}`}>{STATE_LABELS[state]}</span>;
}

function CreateTask({ all }: { all: { node: TaskTreeNode }[] }) {
  const [title, setTitle] = useState("");
  const [parent, setParent] = useState("");
  const [problem, setProblem] = useState("");

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const created = await attempt(
      () =>
        commands.taskCreate({
          title: title.trim(),
          description: "",
          parent: parent ? Number(parent) : null,
          role: null,
          play: null,
          priority: 0,
          depends_on: [],
        }),
      setProblem,
    );
    if (created) setTitle("");
  }

  return (
    <form className="create" onSubmit={(e) => void submit(e)} aria-label="New task">
      <label>
        Title <input id="new-task-title" value={title} onChange={(e) => setTitle(e.target.value)} required />
      </label>
      <TaskSelect label="Under" none="(top level)" tasks={all} value={parent} onChange={setParent} id="new-task-parent" />
      <button type="submit" id="new-task-create">Create task</button>
      {problem && <p role="alert" className="error">{problem}</p>}
    </form>
  );
}

/** A labelled choice of one task (by id, as text), or none. */
function TaskSelect(props: {
  label: string;
  name?: string;
  none: string;
  tasks: { node: TaskTreeNode }[];
  value: string;
  onChange: (value: string) => void;
  id?: string;
}) {
  return (
    <label>
      {props.label}{" "}
      <select id={props.id} aria-label={props.name} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        <option value="">{props.none}</option>
        {props.tasks.map(({ node }) => (
          <option key={node.id} value={node.id}>
            #{node.id} {node.title}
          </option>
        ))}
      </select>
    </label>
  );
}

type ForestProps = {
  nodes: TaskTreeNode[];
  all: { node: TaskTreeNode; depth: number }[];
  titles: Map<number, string>;
  onPlan: (root: number) => void;
};

function TaskForest({ nodes, all, titles, onPlan }: ForestProps) {
  const [dropProblem, setDropProblem] = useState("");
  const [dragging, setDragging] = useState(false);

  async function dropToTop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    const id = Number(e.dataTransfer.getData("text/x-atelier-task"));
    if (id) await attempt(() => commands.taskMove({ id, parent: null }), setDropProblem);
  }

  return (
    <div onDragStart={() => setDragging(true)} onDragEnd={() => setDragging(false)}>
      <ul className="tree" role="tree" aria-label="Task tree">
        {nodes.map((node) => (
          <TaskRow key={node.id} node={node} all={all} titles={titles} onPlan={onPlan} />
        ))}
      </ul>
      <div
        className={dragging ? "drop-top active" : "drop-top"}
        onDragOver={(e) => e.preventDefault()}
        onDrop={(e) => void dropToTop(e)}
      >
        Drop here to move a task to the top level
      </div>
      {dropProblem && <p role="alert" className="error">{dropProblem}</p>}
    </div>
  );
}

type RowProps = Omit<ForestProps, "nodes"> & { node: TaskTreeNode };

function TaskRow({ node, all, titles, onPlan }: RowProps) {
  const [problem, setProblem] = useState("");
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState(node.title);
  const [moveTo, setMoveTo] = useState("");
  const [dependOn, setDependOn] = useState("");
  const [dropTarget, setDropTarget] = useState(false);
  const others = all.filter(({ node: n }) => n.id !== node.id);

  const transition = (action: TaskAction) =>
    attempt(() => commands.taskTransition({ id: node.id, action, reason: null }), setProblem);

  async function rename(e: React.FormEvent) {
    e.preventDefault();
    const done = await attempt(
      () =>
        commands.taskEdit({
          id: node.id,
          title: title.trim(),
          description: null,
          role: null,
          clear_role: false,
          play: null,
          clear_play: false,
          priority: null,
        }),
      setProblem,
    );
    if (done) setRenaming(false);
  }

  async function move(parent: number | null) {
    await attempt(() => commands.taskMove({ id: node.id, parent }), setProblem);
  }

  async function drop(e: DragEvent) {
    e.preventDefault();
    e.stopPropagation();
    setDropTarget(false);
    const id = Number(e.dataTransfer.getData("text/x-atelier-task"));
    if (id && id !== node.id) {
      await attempt(() => commands.taskMove({ id, parent: node.id }), setProblem);
    }
  }

  return (
    <li role="treeitem" aria-expanded={node.children.length > 0 ? true : undefined} aria-selected={false}>
      <div
        className={dropTarget ? "row drop-target" : "row"}
        id={`task-${node.id}`}
        data-state={node.state}
        draggable
        onDragStart={(e) => {
          e.dataTransfer.setData("text/x-atelier-task", String(node.id));
          e.dataTransfer.effectAllowed = "move";
        }}
        onDragOver={(e) => {
          e.preventDefault();
          setDropTarget(true);
        }}
        onDragLeave={() => setDropTarget(false)}
        onDrop={(e) => void drop(e)}
      >
        <span className="id">#{node.id}</span>
        {renaming ? (
          <form className="rename" onSubmit={(e) => void rename(e)}>
            <input
              aria-label={`New title for task ${node.id}`}
              value={title}
              autoFocus
              onChange={(e) => setTitle(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Escape") {
                  setTitle(node.title);
                  setRenaming(false);
                }
              }}
            />
            <button type="submit">Save</button>
          </form>
        ) : (
          <span className="title">{node.title}</span>
        )}
        <StateChip state={node.state} />
        {waitingText(node, titles) && (
          <span className="chip waiting" id={`task-${node.id}-waiting`}>
            {waitingText(node, titles)}
          </span>
        )}
        {node.parent_id === null && node.children.length > 0 && node.state !== "completed" && (
          <button
            aria-label={`Run task ${node.id} with the scheduler`}
            title="Each ready subtask runs its play as its role, in dependency order"
            onClick={() => void attempt(() => commands.orchestrate({ root: node.id }), setProblem)}
          >
            Run
          </button>
        )}
        {node.parent_id === null && node.children.length > 0 && (
          <button
            aria-label={`Plan of task ${node.id}`}
            title="The subtasks as a graph, with the chain of work that decides when it can finish"
            onClick={() => onPlan(node.id)}
          >
            Plan
          </button>
        )}
        {node.depends_on.length > 0 && (
          <span className="deps" aria-label={`Task ${node.id} waits on`}>
            waits on
            {node.depends_on.map((dep) => (
              <span key={dep} className="chip dep">
                #{dep} {titles.get(dep) ?? ""}
                <button
                  className="icon"
                  aria-label={`Remove dependency of task ${node.id} on task ${dep}`}
                  onClick={() =>
                    void attempt(() => commands.taskDependencyRemove({ id: node.id, depends_on: dep }), setProblem)
                  }
                >
                  ×
                </button>
              </span>
            ))}
          </span>
        )}
        <span className="transitions" role="group" aria-label={`Transitions for task ${node.id}`}>
          {node.allowed_actions.map((action) => (
            <button
              key={action}
              data-action={action}
              aria-label={`${ACTION_LABELS[action]} task ${node.id}`}
              onClick={() => void transition(action)}
            >
              {ACTION_LABELS[action]}
            </button>
          ))}
        </span>
        <details className="more">
          <summary aria-label={`More for task ${node.id}`}>More</summary>
          <div className="more-body">
            {!renaming && (
              <button onClick={() => setRenaming(true)} aria-label={`Rename task ${node.id}`}>
                Rename
              </button>
            )}
            <TaskSelect
              label="Move under"
              name={`Move task ${node.id} under`}
              none="(top level)"
              tasks={others}
              value={moveTo}
              onChange={setMoveTo}
            />
            <button aria-label={`Move task ${node.id}`} onClick={() => void move(moveTo ? Number(moveTo) : null)}>
              Move
            </button>
            <TaskSelect
              label="Waits on"
              name={`Dependency for task ${node.id}`}
              none="(choose a task)"
              tasks={others}
              value={dependOn}
              onChange={setDependOn}
            />
            <button
              aria-label={`Add dependency to task ${node.id}`}
              disabled={!dependOn}
              onClick={() =>
                void attempt(
                  () => commands.taskDependencyAdd({ id: node.id, depends_on: Number(dependOn) }),
                  setProblem,
                )
              }
            >
              Add dependency
            </button>
          </div>
        </details>
      </div>
      {problem && (
        <p role="alert" className="error" id={`task-${node.id}-error`}>
          {problem}
        </p>
      )}
      {node.children.length > 0 && (
        <ul role="group">
          {node.children.map((child) => (
            <TaskRow key={child.id} node={child} all={all} titles={titles} onPlan={onPlan} />
          ))}
        </ul>
      )}
    </li>
  );
}
