// Assets: banked outputs by approval state; one asset's text (any version), its reviews, what it
// was made from (lineage from the graph), and the moves its state allows: submit, approve,
// reject with a note, promote to canon, export into a project (asking before replacing a file).
import { useEffect, useState } from "react";
import {
  attempt,
  codeOf,
  commands,
  events,
  type AssetDetail,
  type AssetLineage,
  type AssetState,
  type AssetView,
  type ProjectView,
  type ReviewAction,
} from "../api";
import { useLoaded } from "../useLoaded";

const STATES: Array<AssetState | "all"> = ["all", "in_review", "draft", "approved", "rejected"];
const label = (s: string) => s.replace("_", " ");
const listProjects = () => commands.projectList();

export function AssetsView({ initial }: { initial?: number | null }) {
  const [filter, setFilter] = useState<AssetState | "all">("all");
  const [assets, setAssets] = useState<AssetView[]>([]);
  const [problem, setProblem] = useState("");
  const [open, setOpen] = useState<number | null>(initial ?? null);

  async function reload() {
    const list = await attempt(
      () => commands.assetsList({ state: filter === "all" ? null : filter, task: null }),
      setProblem,
    );
    if (list) setAssets(list);
  }

  useEffect(() => {
    void reload();
    const stop = events.assetsChanged.listen(() => void reload());
    return () => {
      void stop.then((unlisten) => unlisten());
    };
    // Reloads when the filter changes; `reload` reads it.
  }, [filter]);

  return (
    <div className="assets">
      <section aria-labelledby="assets-title">
        <h2 id="assets-title">Assets</h2>
        <div role="group" aria-label="Filter by state" className="chips">
          {STATES.map((s) => (
            <button key={s} aria-pressed={filter === s} onClick={() => setFilter(s)}>
              {label(s)}
            </button>
          ))}
        </div>
        {problem && <p role="alert" className="error">{problem}</p>}
        {assets.length === 0 && <p className="empty">No assets here. A passed run banks its output as one.</p>}
        <ul className="cards" aria-label="Assets">
          {assets.map((a) => (
            <li key={a.id} className="card">
              <button onClick={() => setOpen(a.id)} aria-label={`Open asset ${a.id}`}>
                {a.title}
              </button>{" "}
              <span className={`chip asset-${a.state}`}>{label(a.state)}</span> <span className="badge">v{a.version}</span>
              {a.canon !== null && <span className="badge">canon {a.canon}</span>}
            </li>
          ))}
        </ul>
      </section>
      {open !== null && <AssetPanel key={open} asset={open} onChanged={() => void reload()} />}
    </div>
  );
}

function AssetPanel({ asset, onChanged }: { asset: number; onChanged: () => void }) {
  const [version, setVersion] = useState<number | null>(null);
  const [detail, setDetail] = useState<AssetDetail | null>(null);
  const [lineage, setLineage] = useState<AssetLineage | null>(null);
  const [problem, setProblem] = useState("");
  const [note, setNote] = useState("");

  async function load() {
    const shown = await attempt(() => commands.assetShow(asset, version), setProblem);
    if (shown) setDetail(shown);
    const traced = await attempt(() => commands.assetLineage(asset), setProblem);
    if (traced) setLineage(traced);
  }

  useEffect(() => {
    void load();
  }, [asset, version]);

  async function review(action: ReviewAction) {
    const moved = await attempt(() => commands.assetReview({ asset, action, note }), setProblem);
    if (moved) {
      setNote("");
      await load();
      onChanged();
    }
  }

  if (!detail) {
    return problem ? <p role="alert" className="error">{problem}</p> : <p>Loading asset {asset}…</p>;
  }
  const a = detail.asset;
  return (
    <section aria-label={`Asset ${a.id}`} className="detail">
      <h2 id="asset-title">
        {a.title} <span className={`chip asset-${a.state}`}>{label(a.state)}</span>
      </h2>
      <label>
        Version{" "}
        <select value={detail.shown_version} onChange={(e) => setVersion(Number(e.target.value))}>
          {detail.versions.map((v) => (
            <option key={v.version} value={v.version}>
              v{v.version}
              {v.run !== null ? ` (run ${v.run})` : ""}
            </option>
          ))}
        </select>
      </label>
      <pre className="body" aria-label="Content">
        {detail.content}
      </pre>
      <div className="actions" role="group" aria-label="Review">
        <input aria-label="Note" placeholder="A note (a rejection needs one)" value={note} onChange={(e) => setNote(e.target.value)} />
        {a.state === "draft" && (
          <button id="asset-submit" onClick={() => void review("submit")}>
            Send for review
          </button>
        )}
        {a.state === "in_review" && (
          <>
            <button id="asset-approve" onClick={() => void review("approve")}>
              Approve
            </button>
            <button id="asset-reject" onClick={() => void review("reject")}>
              Reject
            </button>
          </>
        )}
      </div>
      {problem && <p role="alert" className="error">{problem}</p>}
      {a.state === "approved" && (
        <>
          <Promote asset={a} onDone={() => void load().then(onChanged)} />
          <Export asset={a} />
        </>
      )}
      {detail.reviews.length > 0 && (
        <>
          <h3>Reviews</h3>
          <ol className="hint">
            {detail.reviews.map((r, i) => (
              <li key={i}>
                v{r.version}: {label(r.from)} → {label(r.to)} by {r.principal}
                {r.note && `: ${r.note}`}
              </li>
            ))}
          </ol>
        </>
      )}
      {lineage && (
        <>
          <h3>Lineage</h3>
          <ul className="hint" aria-label="Lineage">
            <li>Made by {lineage.runs.map((r) => `run ${r.run} (${r.play})`).join(", ") || "no run"}</li>
            {lineage.task !== null && <li>For task {lineage.task}</li>}
            <li>Canon given: {lineage.canon.join(", ") || "none"}</li>
            <li>Documents given: {lineage.documents.join(", ") || "none"}</li>
            {lineage.promoted_to !== null && <li>Became canon block {lineage.promoted_to}</li>}
            {lineage.built_on.length > 0 && <li>Built on assets {lineage.built_on.join(", ")}</li>}
            {lineage.built_upon_by.length > 0 && <li>Built upon by assets {lineage.built_upon_by.join(", ")}</li>}
          </ul>
        </>
      )}
    </section>
  );
}

function Promote({ asset, onDone }: { asset: AssetView; onDone: () => void }) {
  const [tags, setTags] = useState("");
  const [problem, setProblem] = useState("");
  if (asset.canon !== null) return <p className="hint">Promoted to canon block {asset.canon}.</p>;
  return (
    <form
      className="editor"
      aria-label="Promote to canon"
      onSubmit={(e) => {
        e.preventDefault();
        const list = tags.split(",").map((t) => t.trim()).filter(Boolean);
        void attempt(() => commands.assetPromote({ asset: asset.id, tags: list, tier: null }), setProblem).then(
          (block) => block && onDone(),
        );
      }}
    >
      <label>
        Tags <input value={tags} placeholder="world, characters" onChange={(e) => setTags(e.target.value)} />
      </label>
      <button type="submit">Promote to canon</button>
      {problem && <p role="alert" className="error">{problem}</p>}
    </form>
  );
}

function Export({ asset }: { asset: AssetView }) {
  const { data: projects } = useLoaded<ProjectView[]>(listProjects, []);
  const [project, setProject] = useState("");
  const [path, setPath] = useState("");
  const [problem, setProblem] = useState("");
  const [done, setDone] = useState("");
  const [confirming, setConfirming] = useState(false);
  const chosen = project || projects[0]?.name || "";

  async function write(overwrite: boolean) {
    setDone("");
    const request = { asset: asset.id, project: chosen, path, overwrite };
    const answer = await commands.assetExport(request);
    if (!overwrite && codeOf(answer) === "FILE_EXISTS") {
      setProblem("");
      setConfirming(true);
      return;
    }
    setConfirming(false);
    const written = await attempt(() => Promise.resolve(answer), setProblem);
    if (written) setDone(`${written.replaced ? "Replaced" : "Wrote"} ${written.project}/${written.path} (${written.bytes} bytes).`);
  }

  return (
    <form
      className="editor"
      aria-label="Export to a project"
      onSubmit={(e) => {
        e.preventDefault();
        void write(false);
      }}
    >
      <label>
        Project{" "}
        <select value={chosen} onChange={(e) => setProject(e.target.value)}>
          {projects.map((p) => (
            <option key={p.name}>{p.name}</option>
          ))}
        </select>
      </label>
      <label>
        Path in the project <input id="export-path" value={path} placeholder="notes/mara.md" onChange={(e) => setPath(e.target.value)} />
      </label>
      <button type="submit" id="export-submit" disabled={!chosen || !path}>
        Export
      </button>
      {confirming && (
        <p role="alertdialog" aria-label="Replace the file?">
          {chosen}/{path} already exists. Replace it?{" "}
          <button type="button" onClick={() => void write(true)}>
            Replace
          </button>{" "}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep the file
          </button>
        </p>
      )}
      {problem && <p role="alert" className="error">{problem}</p>}
      {done && (
        <p id="export-done" className="hint">
          {done}
        </p>
      )}
    </form>
  );
}
