// Projects: add a folder (OS picker or a typed path), ingest with live progress, watch on/off,
// remove; the last ingest's summary with what was skipped and why.
import { useEffect, useState } from "react";
import { attempt, commands, events, type IngestProgress, type IngestReport, type ProjectView } from "../api";
import { useLoaded } from "../useLoaded";
import { counted } from "../counted";

const listProjects = () => commands.projectList();

export function ProjectsView() {
  const { data: projects, problem, reload } = useLoaded<ProjectView[]>(listProjects, []);
  const [path, setPath] = useState("");
  const [error, setError] = useState("");
  const [progress, setProgress] = useState<Record<string, IngestProgress>>({});
  const [reports, setReports] = useState<Record<string, IngestReport>>({});

  useEffect(() => {
    const changed = events.projectsChanged.listen(() => void reload());
    const progressed = events.ingestProgressed.listen((e) =>
      setProgress((p) => ({ ...p, [e.payload.progress.project]: e.payload.progress })),
    );
    return () => {
      void changed.then((stop) => stop());
      void progressed.then((stop) => stop());
    };
  }, [reload]);

  async function add(folder: string) {
    const added = await attempt(() => commands.projectAdd({ path: folder, name: null }), setError);
    if (added) {
      setPath("");
      await reload();
      await ingest(added.name);
    }
  }

  async function pick() {
    const folder = await attempt(() => commands.projectPickFolder(), setError);
    if (folder) await add(folder);
  }

  async function ingest(name: string) {
    const report = await attempt(() => commands.ingest(name), setError);
    setProgress((p) => {
      const next = { ...p };
      delete next[name];
      return next;
    });
    if (report) setReports((r) => ({ ...r, [name]: report }));
    await reload();
  }

  return (
    <section aria-labelledby="projects-title" className="projects">
      <h2 id="projects-title">Projects</h2>
      <div className="row">
        <button id="project-pick" onClick={() => void pick()}>
          Add a folder…
        </button>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void add(path);
          }}
        >
          <label>
            or its path <input id="project-path" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/home/you/novel" />
          </label>
          <button type="submit" id="project-add" disabled={!path.trim()}>
            Add
          </button>
        </form>
      </div>
      {(error || problem) && <p role="alert" className="error">{error || problem}</p>}
      {projects.length === 0 && <p className="empty">No projects yet: add the folder of your novel, game or podcast.</p>}
      <ul className="cards">
        {projects.map((p) => {
          const running = progress[p.name];
          const report = reports[p.name];
          return (
            <li key={p.id} className="card" data-project={p.name}>
              <h3>{p.name}</h3>
              <p className="muted" title={p.root}>
                {p.root}
              </p>
              <p>
                {counted(p.documents, "document")} · {counted(p.chunks, "passage")}
                {p.ingested_at ? ` · ingested ${new Date(p.ingested_at).toLocaleString()}` : " · not ingested yet"}
              </p>
              {running && (
                <p className="progress" aria-live="polite">
                  {running.stage}… <progress max={Math.max(running.total, 1)} value={running.done} /> {running.done}/
                  {running.total}
                </p>
              )}
              {report && <IngestSummary report={report} />}
              <div className="row">
                <button onClick={() => void ingest(p.name)} disabled={!!running} aria-label={`Ingest ${p.name}`}>
                  Ingest
                </button>
                <label>
                  <input
                    type="checkbox"
                    checked={p.watch}
                    aria-label={`Watch ${p.name}`}
                    onChange={(e) => void attempt(() => commands.projectWatch(p.name, e.target.checked), setError).then(reload)}
                  />{" "}
                  Watch
                </label>
                <button
                  className="danger"
                  aria-label={`Remove ${p.name}`}
                  onClick={() => void attempt(() => commands.projectRemove(p.name), setError).then(reload)}
                >
                  Remove
                </button>
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function IngestSummary({ report }: { report: IngestReport }) {
  return (
    <div className="summary" role="status">
      <p>
        {report.added} added, {report.changed} changed, {report.unchanged} unchanged, {report.removed} removed; {counted(report.embedded, "passage")} embedded
        {report.dangling_links ? `; ${counted(report.dangling_links, "dangling link")}` : ""}.
      </p>
      {report.skipped.map((s) => (
        <p key={s.reason} className="muted">
          Skipped {s.count} ({s.description}): {s.examples.join(", ")}
        </p>
      ))}
      {report.embedding_problem && <p className="error">{report.embedding_problem}</p>}
    </div>
  );
}
