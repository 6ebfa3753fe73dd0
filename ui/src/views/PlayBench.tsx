// The play bench: pick a play, fill in its parameters, see the ASSET prompt of every step with
// its token counts and what the Sources budget cut (refreshed as you type), then run it and
// watch the model's text stream in, the gates pass or fail, and the output banked.
import { useEffect, useMemo, useRef, useState } from "react";
import {
  attempt,
  commands,
  events,
  type GateResult,
  type Parameter,
  type Play,
  type RunEvent,
  type RunPreview,
  type RunView,
  type Value,
} from "../api";
import { useLoaded } from "../useLoaded";
import { AdhocForm, EMPTY_ADHOC, adhocRequest, type AdhocDraft } from "./AdhocForm";

const listPlays = () => commands.playsList();

/** Text fields for every parameter, prefilled with its default. */
function defaults(play: Play | undefined): Record<string, string> {
  const values: Record<string, string> = {};
  for (const p of play?.parameters ?? []) {
    values[p.name] = p.default === null || p.default === undefined ? "" : String(p.default);
  }
  return values;
}

/** The parameters as the core takes them: numbers and booleans typed, empty optional ones left out. */
function typed(play: Play, values: Record<string, string>): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const p of play.parameters) {
    const raw = values[p.name] ?? "";
    if (raw === "" && !p.required) continue;
    if (p.type === "integer" || p.type === "number") {
      out[p.name] = raw.trim() === "" || Number.isNaN(Number(raw)) ? raw : Number(raw);
    } else if (p.type === "boolean") {
      out[p.name] = raw === "true";
    } else {
      out[p.name] = raw;
    }
  }
  return out;
}

type StepLive = { step: string; model: string; text: string; gates: GateResult[] | null; status: string | null };
type Live = {
  run: number | null;
  steps: StepLive[];
  notes: string[];
  banked: { asset: number; version: number; state: string } | null;
  finished: string | null;
};
const NO_LIVE: Live = { run: null, steps: [], notes: [], banked: null, finished: null };

/** Folds one run event into what the bench shows. */
export function applyEvent(live: Live, e: RunEvent): Live {
  switch (e.event) {
    case "started":
      return { ...NO_LIVE, run: e.run };
    case "step_started":
      return {
        ...live,
        steps: [...live.steps.filter((s) => s.step !== e.step), { step: e.step, model: e.model, text: "", gates: null, status: null }],
      };
    case "text":
      return {
        ...live,
        steps: live.steps.map((s) => (s.step === e.step ? { ...s, text: s.text + e.text } : s)),
      };
    case "retry":
      return {
        ...live,
        notes: [
          ...live.notes,
          e.wait_ms > 0
            ? `${e.model}: trying again in ${(e.wait_ms / 1000).toFixed(1)} s`
            : `${e.model} failed; trying the next model`,
        ],
      };
    case "step_finished":
      return {
        ...live,
        steps: live.steps.map((s) => (s.step === e.step ? { ...s, gates: e.gates, status: e.status } : s)),
      };
    case "banked":
      return { ...live, banked: { asset: e.asset, version: e.version, state: e.state } };
    case "finished":
      return { ...live, finished: e.status };
  }
}

export function PlayBench({ onOpenAsset }: { onOpenAsset?: (asset: number) => void }) {
  const { data: plays, problem: listProblem } = useLoaded<Play[]>(listPlays, []);
  const [name, setName] = useState("");
  const play = plays.find((p) => p.name === name) ?? plays[0];
  const [values, setValues] = useState<Record<string, string>>({});
  const [model, setModel] = useState("");
  const [mode, setMode] = useState<"play" | "adhoc">("play");
  const [adhoc, setAdhoc] = useState<AdhocDraft>(EMPTY_ADHOC);
  const [preview, setPreview] = useState<RunPreview | null>(null);
  const [previewProblem, setPreviewProblem] = useState("");
  const [live, setLive] = useState<Live>(NO_LIVE);
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<RunView | null>(null);
  const [runProblem, setRunProblem] = useState("");
  const runId = useRef<number | null>(null);

  useEffect(() => {
    setValues(defaults(play));
    setPreview(null);
  }, [play]);

  const request = useMemo(() => {
    const chosen = model.trim() || null;
    if (mode === "adhoc") {
      return adhoc.task.trim() ? { play: "", adhoc: adhocRequest(adhoc), params: {}, model: chosen, task: null } : null;
    }
    return play ? { play: play.name, adhoc: null, params: typed(play, values), model: chosen, task: null } : null;
  }, [mode, adhoc, play, values, model]);

  // The preview follows the form, a moment after the last keystroke.
  useEffect(() => {
    if (!request) return;
    const timer = setTimeout(() => {
      void attempt(() => commands.runPreview(request), setPreviewProblem).then((p) => setPreview(p));
    }, 250);
    return () => clearTimeout(timer);
  }, [request]);

  useEffect(() => {
    const stop = events.runProgressed.listen((e) => {
      const event = e.payload.event as RunEvent;
      if (event.event !== "started" && event.run !== runId.current) return;
      if (event.event === "started") runId.current = event.run;
      setLive((l) => applyEvent(l, event));
    });
    return () => {
      void stop.then((unlisten) => unlisten());
    };
  }, []);

  async function run() {
    if (!request) return;
    setRunning(true);
    setResult(null);
    setLive(NO_LIVE);
    runId.current = null;
    const view = await attempt(() => commands.runPlay(request), setRunProblem);
    setRunning(false);
    if (view) setResult(view);
  }

  return (
    <div className="bench">
      <section aria-labelledby="bench-config">
        <h2 id="bench-config">Run a play</h2>
        {listProblem && <p role="alert" className="error">{listProblem}</p>}
        <div role="radiogroup" aria-label="What to run" className="chips">
          <label>
            <input type="radio" name="bench-mode" checked={mode === "play"} onChange={() => setMode("play")} /> A play
          </label>
          <label>
            <input id="bench-adhoc" type="radio" name="bench-mode" checked={mode === "adhoc"} onChange={() => setMode("adhoc")} />{" "}
            Choose each part
          </label>
        </div>
        <label hidden={mode === "adhoc"}>
          Play{" "}
          <select id="bench-play" value={play?.name ?? ""} onChange={(e) => setName(e.target.value)}>
            {plays.map((p) => (
              <option key={p.name} value={p.name}>
                {p.title} ({p.domain})
              </option>
            ))}
          </select>
        </label>
        {play && mode === "play" && <p className="hint">{play.description}</p>}
        {(play || mode === "adhoc") && (
          <form
            aria-label="Parameters"
            className="editor"
            onSubmit={(e) => {
              e.preventDefault();
              void run();
            }}
          >
            {mode === "adhoc" && <AdhocForm draft={adhoc} onChange={setAdhoc} />}
            {mode === "play" &&
              play?.parameters.map((p) => (
              <ParameterField
                key={p.name}
                parameter={p}
                value={values[p.name] ?? ""}
                onChange={(v) => setValues((old) => ({ ...old, [p.name]: v }))}
              />
            ))}
            <label>
              Model (optional, provider:model){" "}
              <input id="bench-model" value={model} placeholder="routing decides" onChange={(e) => setModel(e.target.value)} />
            </label>
            <div className="actions">
              <button type="submit" id="bench-run" disabled={running}>
                {running ? "Running…" : "Run"}
              </button>
              {running && live.run !== null && (
                <button type="button" onClick={() => void attempt(() => commands.runCancel(live.run as number), setRunProblem)}>
                  Cancel run
                </button>
              )}
            </div>
            {runProblem && <p role="alert" className="error">{runProblem}</p>}
          </form>
        )}
        {play && mode === "play" && <StepsOfPlay play={play} />}
      </section>
      <section aria-labelledby="bench-preview" className="preview">
        <h2 id="bench-preview">What will be sent</h2>
        {previewProblem && <p role="alert" className="error">{previewProblem}</p>}
        {preview?.steps.map((s) => (
          <article key={s.step} className="card" aria-label={`Prompt of step ${s.step}`}>
            <h3>
              {s.step} <span className="badge">{s.role}</span>{" "}
              <span className="tokens">~{s.assembled.total_tokens} tokens</span>
            </h3>
            <p className="hint">
              Models, in order: {s.candidates.map((c) => `${c.model.provider}:${c.model.model}`).join(", ") || "none configured"}
            </p>
            <table className="sections">
              <tbody>
                {s.assembled.sections.map((section) => (
                  <tr key={section.name}>
                    <th scope="row">{section.name}</th>
                    <td>~{section.tokens} tokens</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {s.assembled.sources.length > 0 && (
              <p>
                Sources: {s.assembled.sources.map((c) => `[${c.citation}] ${c.source.title}`).join("; ")}
              </p>
            )}
            {s.assembled.cut.length > 0 && (
              <p className="warning">
                Cut to fit the {s.assembled.budget_tokens}-token budget: {s.assembled.cut.map((c) => c.title).join("; ")}
              </p>
            )}
            <details>
              <summary>Full prompt</summary>
              <pre className="body">{s.assembled.system}</pre>
              <pre className="body">{s.assembled.prompt}</pre>
            </details>
          </article>
        ))}
      </section>
      {(live.run !== null || result) && (
        <section aria-labelledby="bench-output" className="output">
          <h2 id="bench-output">
            Run {live.run ?? result?.id} {live.finished ?? result?.status ?? "running"}
          </h2>
          {live.notes.map((n, i) => (
            <p key={i} className="hint">
              {n}
            </p>
          ))}
          {live.steps.map((s) => (
            <article key={s.step} className="card" aria-label={`Output of step ${s.step}`}>
              <h3>
                {s.step} <span className="badge">{s.model}</span>
              </h3>
              <pre className="body" aria-live="polite">
                {s.text}
              </pre>
              {s.gates && <Gates gates={s.gates} />}
            </article>
          ))}
          {result?.message && <p className="warning">{result.message}</p>}
          {live.banked && (
            <p id="bench-banked">
              Banked as asset {live.banked.asset} (version {live.banked.version}, {live.banked.state.replace("_", " ")}).{" "}
              {onOpenAsset && (
                <button id="bench-open-asset" onClick={() => onOpenAsset(live.banked?.asset as number)}>
                  Review it
                </button>
              )}
            </p>
          )}
          {result && (
            <p className="hint">
              {result.input_tokens} tokens in, {result.output_tokens} out, ${(result.cost_micros / 1_000_000).toFixed(4)}
            </p>
          )}
        </section>
      )}
    </div>
  );
}

function ParameterField(props: { parameter: Parameter; value: string; onChange: (v: string) => void }) {
  const p = props.parameter;
  const label = `${p.name}${p.required ? "" : " (optional)"}`;
  const id = `param-${p.name}`;
  let input;
  if (p.type === "text") {
    input = <textarea id={id} value={props.value} rows={3} onChange={(e) => props.onChange(e.target.value)} />;
  } else if (p.type === "choice") {
    input = (
      <select id={id} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        {(p.options ?? []).map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    );
  } else if (p.type === "boolean") {
    input = (
      <input id={id} type="checkbox" checked={props.value === "true"} onChange={(e) => props.onChange(String(e.target.checked))} />
    );
  } else {
    input = (
      <input
        id={id}
        type={p.type === "integer" || p.type === "number" ? "number" : "text"}
        min={p.minimum ?? undefined}
        max={p.maximum ?? undefined}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    );
  }
  return (
    <label title={p.description}>
      {label} {input}
      <span className="hint">{p.description}</span>
    </label>
  );
}

/** Each step's role, task class, sources, shape and expectations, as the play defines them. */
function StepsOfPlay({ play }: { play: Play }) {
  return (
    <details>
      <summary>
        {play.steps.length} step{play.steps.length === 1 ? "" : "s"}; output {play.approval === "manual" ? "banked by hand" : `banked as ${play.approval === "draft" ? "a draft" : "an asset in review"}`}
      </summary>
      <ol>
        {play.steps.map((s) => (
          <li key={s.id}>
            <strong>{s.id}</strong>: role {s.role}, {s.task_class}
            {s.needs && s.needs.length > 0 && <>, after {s.needs.join(", ")}</>}
            {(s.sources.canon_tags?.length ?? 0) > 0 && <>; canon tagged {s.sources.canon_tags?.join(", ")}</>}
            {s.sources.search && <>; passages matching “{s.sources.search}”</>}
            {s.expectations && s.expectations.length > 0 && <>; {s.expectations.length} expectations</>}
          </li>
        ))}
      </ol>
    </details>
  );
}

export function Gates({ gates }: { gates: GateResult[] }) {
  return (
    <ul className="gates" aria-label="Gates">
      {gates.map((g, i) => (
        <li key={i} className={g.passed ? "gate-pass" : "gate-fail"}>
          {g.passed ? "✓" : "✗"} {g.expectation}
          {g.detail && <span className="hint"> — {g.detail}</span>}
        </li>
      ))}
    </ul>
  );
}
