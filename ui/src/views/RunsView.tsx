// Runs: every run with its status, tokens and cost; one run's steps with the prompt sent, the
// model that answered, the output, its gates and each attempt; a passed run not yet banked can
// be banked from here.
import { useEffect, useState } from "react";
import { attempt, commands, events, type RunView } from "../api";
import { useLoaded } from "../useLoaded";
import { Gates } from "./PlayBench";

const listRuns = () => commands.runsList(100);

export function RunsView({ onOpenAsset }: { onOpenAsset?: (asset: number) => void }) {
  const { data: runs, problem, reload } = useLoaded<RunView[]>(listRuns, []);
  const [open, setOpen] = useState<number | null>(null);
  const [bankProblem, setBankProblem] = useState("");

  useEffect(() => {
    const stop = events.assetsChanged.listen(() => void reload());
    return () => {
      void stop.then((unlisten) => unlisten());
    };
  }, [reload]);

  const run = runs.find((r) => r.id === open);

  async function bank(id: number) {
    const asset = await attempt(() => commands.assetBank({ run: id, into: null, title: null }), setBankProblem);
    if (asset) await reload();
  }

  return (
    <div className="runs">
      <section aria-labelledby="runs-title">
        <h2 id="runs-title">Runs</h2>
        {problem && <p role="alert" className="error">{problem}</p>}
        {runs.length === 0 && <p className="empty">No runs yet: start one from “Run a play”.</p>}
        <table className="listing" aria-label="Runs">
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} aria-selected={r.id === open}>
                <td>
                  <button onClick={() => setOpen(r.id)} aria-label={`Show run ${r.id}`}>
                    {r.id}
                  </button>
                </td>
                <td>
                  <span className={`chip run-${r.status}`}>{r.status}</span>
                  {r.reason && <span className="hint"> ({r.reason.replace("_", " ")})</span>}
                </td>
                <td>{r.play}</td>
                <td>
                  {r.input_tokens}/{r.output_tokens} tokens, ${(r.cost_micros / 1_000_000).toFixed(4)}
                </td>
                <td>{r.asset !== null ? `asset ${r.asset}` : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {run && (
        <section aria-label={`Run ${run.id}`} className="detail">
          <h2>
            Run {run.id}: {run.play} <span className="badge">{run.play_version.slice(0, 12)}</span>
          </h2>
          {run.message && <p className="warning">{run.message}</p>}
          {run.status === "passed" && run.asset === null && (
            <p>
              <button onClick={() => void bank(run.id)}>Bank as an asset</button>
              {bankProblem && <span role="alert" className="error"> {bankProblem}</span>}
            </p>
          )}
          {run.asset !== null && onOpenAsset && (
            <p>
              <button onClick={() => onOpenAsset(run.asset as number)}>Open asset {run.asset}</button>
            </p>
          )}
          {run.steps.map((s) => (
            <article key={s.step} className="card" aria-label={`Step ${s.step}`}>
              <h3>
                {s.step} <span className={`chip run-${s.status}`}>{s.status}</span>{" "}
                <span className="badge">{s.model ?? s.role}</span>
                {s.latency_ms !== null && <span className="hint"> {s.latency_ms} ms</span>}
              </h3>
              {s.output && <pre className="body">{s.output}</pre>}
              {s.gates.length > 0 && <Gates gates={s.gates} />}
              {s.attempts.length > 1 && (
                <ul className="hint" aria-label="Attempts">
                  {s.attempts.map((a, i) => (
                    <li key={i}>
                      {a.model}: {a.outcome}
                    </li>
                  ))}
                </ul>
              )}
              {s.prompt && (
                <details>
                  <summary>Prompt sent</summary>
                  <pre className="body">{s.system_prompt}</pre>
                  <pre className="body">{s.prompt}</pre>
                </details>
              )}
            </article>
          ))}
        </section>
      )}
    </div>
  );
}
