// The plan of a task tree: its tasks in columns by how much work comes before them, an arrow
// from each dependency to what waits on it, and the critical path (the chain of work that
// decides when the tree can finish) drawn bold. States are live: every task change reloads.
import { useCallback, useState } from "react";
import { attempt, commands, events, type PlanNode, type TaskPlan } from "../api";
import { useReloadOn } from "../useLoaded";

const BOX_WIDTH = 190;
const BOX_HEIGHT = 48;
const COLUMN_GAP = 60;
const ROW_GAP = 16;
const MARGIN = 8;

/** A duration for people: "850 ms", "4.2 s", "3 min 5 s". */
export function took(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1_000)} s`;
}

/** Where each node sits: its column left to right, then by id top to bottom. */
function layout(nodes: PlanNode[]): Map<number, { x: number; y: number }> {
  const rows = new Map<number, number>();
  const at = new Map<number, { x: number; y: number }>();
  for (const node of [...nodes].sort((a, b) => a.column - b.column || a.id - b.id)) {
    const row = rows.get(node.column) ?? 0;
    rows.set(node.column, row + 1);
    at.set(node.id, {
      x: MARGIN + node.column * (BOX_WIDTH + COLUMN_GAP),
      y: MARGIN + row * (BOX_HEIGHT + ROW_GAP),
    });
  }
  return at;
}

function workText(node: PlanNode): string {
  if (node.container) return "its subtasks";
  return node.measured ? took(node.work_ms) : `about ${took(node.work_ms)}`;
}

export function PlanView({ root, onClose }: { root: number; onClose: () => void }) {
  const [plan, setPlan] = useState<TaskPlan | null>(null);
  const [problem, setProblem] = useState("");

  const reload = useCallback(async () => {
    const loaded = await attempt(() => commands.taskPlan(root), setProblem);
    if (loaded) {
      setPlan(loaded);
      setProblem("");
    }
  }, [root]);

  useReloadOn(events.tasksChanged, reload);

  const titles = new Map(plan?.nodes.map((n) => [n.id, n.title]) ?? []);
  const at = plan ? layout(plan.nodes) : new Map<number, { x: number; y: number }>();
  const width = Math.max(...[...at.values()].map((p) => p.x + BOX_WIDTH + MARGIN), 0);
  const height = Math.max(...[...at.values()].map((p) => p.y + BOX_HEIGHT + MARGIN), 0);

  return (
    <section aria-labelledby="plan-title" className="plan" id={`plan-${root}`}>
      <h2 id="plan-title">
        Plan of #{root} {titles.get(root) ?? ""}
      </h2>
      <button onClick={onClose} aria-label="Close the plan">
        Close
      </button>
      {problem && <p role="alert" className="error">{problem}</p>}
      {plan && (
        <>
          <p className="summary" id="plan-summary">
            The critical path takes {took(plan.length_ms)}; {took(plan.remaining_ms)} of it is left. Durations are
            measured where a task has run and estimated from similar runs where it has not.
          </p>
          <ol aria-label="Critical path" className="critical-path">
            {plan.critical_path.map((id) => (
              <li key={id}>
                #{id} {titles.get(id) ?? ""}
              </li>
            ))}
          </ol>
          {plan.stuck.length > 0 && (
            <p role="alert" className="error">
              These tasks wait on themselves through their parents and can never start:{" "}
              {plan.stuck.map((id) => `#${id}`).join(", ")}
            </p>
          )}
          <div className="plan-canvas">
            <svg width={width} height={height} role="group" aria-label={`Plan graph of task ${root}`}>
              <defs>
                <marker id="plan-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
                  <path d="M 0 0 L 10 5 L 0 10 z" />
                </marker>
              </defs>
              {plan.edges.map((edge) => {
                const from = at.get(edge.from);
                const to = at.get(edge.to);
                if (!from || !to) return null;
                const x1 = from.x + BOX_WIDTH;
                const y1 = from.y + BOX_HEIGHT / 2;
                const x2 = to.x;
                const y2 = to.y + BOX_HEIGHT / 2;
                const bend = Math.max(Math.abs(x2 - x1) / 2, 20);
                return (
                  <path
                    key={`${edge.from}-${edge.to}`}
                    id={`plan-edge-${edge.from}-${edge.to}`}
                    className={edge.critical ? "edge critical" : "edge"}
                    d={`M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`}
                    markerEnd="url(#plan-arrow)"
                  >
                    <title>
                      #{edge.to} waits on #{edge.from}
                      {edge.critical ? " (critical path)" : ""}
                    </title>
                  </path>
                );
              })}
              {plan.nodes.map((node) => {
                const p = at.get(node.id);
                if (!p) return null;
                const classes = ["plan-node", `state-${node.state}`];
                if (node.critical) classes.push("critical");
                if (node.container) classes.push("container");
                if (node.outside) classes.push("outside");
                return (
                  <g
                    key={node.id}
                    id={`plan-node-${node.id}`}
                    className={classes.join(" ")}
                    data-state={node.state}
                    data-critical={node.critical}
                    transform={`translate(${p.x} ${p.y})`}
                  >
                    <title>
                      #{node.id} {node.title}: {node.state.replace("_", " ")}, {workText(node)}
                      {node.outside ? ", outside this plan" : ""}
                      {node.critical ? ", on the critical path" : ""}
                    </title>
                    <rect width={BOX_WIDTH} height={BOX_HEIGHT} rx={6} />
                    <text x={8} y={19} className="plan-title">
                      #{node.id} {node.title.length > 22 ? `${node.title.slice(0, 21)}…` : node.title}
                    </text>
                    <text x={8} y={38} className="plan-meta">
                      {node.state.replace("_", " ")} · {workText(node)}
                    </text>
                  </g>
                );
              })}
            </svg>
          </div>
        </>
      )}
    </section>
  );
}
