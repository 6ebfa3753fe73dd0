// The window: the vault gate until the vault is open, then the workbench with its views; a
// document opened from search or another document replaces the view until closed.
import { useEffect, useState } from "react";
import { attempt, commands, type Status } from "./api";
import { AssetsView } from "./views/AssetsView";
import { AuditView } from "./views/AuditView";
import { CatalogView } from "./views/CatalogView";
import { DocumentView } from "./views/DocumentView";
import { GrantsView } from "./views/GrantsView";
import { KillSwitch } from "./views/KillSwitch";
import { PlayBench } from "./views/PlayBench";
import { ProjectsView } from "./views/ProjectsView";
import { SearchView } from "./views/SearchView";
import { RolesView } from "./views/RolesView";
import { RunsView } from "./views/RunsView";
import { SettingsView } from "./views/SettingsView";
import { TasksView } from "./views/TasksView";
import { VaultGate } from "./views/VaultGate";
import { ThemeSwitch } from "./views/ThemeSwitch";

const VIEWS = [
  { id: "tasks", label: "Tasks" },
  { id: "bench", label: "Run a play" },
  { id: "runs", label: "Runs" },
  { id: "assets", label: "Assets" },
  { id: "projects", label: "Projects" },
  { id: "search", label: "Search" },
  { id: "roles", label: "Roles" },
  { id: "catalog", label: "Canon & shapes" },
  { id: "audit", label: "Audit" },
  { id: "grants", label: "Grants" },
  { id: "settings", label: "Providers & keys" },
] as const;
type ViewId = (typeof VIEWS)[number]["id"];

export function App() {
  const [status, setStatus] = useState<Status | null>(null);
  const [problem, setProblem] = useState("");

  useEffect(() => {
    void attempt(() => commands.vaultStatus(), setProblem).then((s) => s && setStatus(s));
  }, []);

  if (!status) {
    return (
      <main className="gate" aria-busy={!problem}>
        {problem ? <p role="alert" className="error">{problem}</p> : <p>Opening your vault…</p>}
      </main>
    );
  }
  if (status.sealed) {
    return <VaultGate status={status} onOpened={setStatus} />;
  }
  return <Workbench vault={status.vault} />;
}

function Workbench({ vault }: { vault: string }) {
  const [view, setView] = useState<ViewId>("tasks");
  const [document, setDocument] = useState<number | null>(null);
  const [problem, setProblem] = useState("");
  const [asset, setAsset] = useState<number | null>(null);
  const openAsset = (id: number) => {
    setAsset(id);
    setView("assets");
  };

  return (
    <div className="workbench">
      <header className="topbar">
        <h1>Atelier</h1>
        <nav aria-label="Views" role="tablist">
          {VIEWS.map((v) => (
            <button
              key={v.id}
              role="tab"
              id={`tab-${v.id}`}
              aria-selected={view === v.id && document === null}
              aria-controls="view"
              onClick={() => {
                setDocument(null);
                setView(v.id);
              }}
            >
              {v.label}
            </button>
          ))}
        </nav>
        <span className="vault-path" title={vault}>
          {vault}
        </span>
        <button id="new-window" onClick={() => void attempt(() => commands.windowOpen(), setProblem)}>
          New window
        </button>
        <KillSwitch />
        <ThemeSwitch />
        {problem && <p role="alert" className="error">{problem}</p>}
      </header>
      <main id="view" role="tabpanel" aria-labelledby={`tab-${view}`}>
        {document !== null && (
          <>
            <button id="document-close" onClick={() => setDocument(null)}>
              ← Back
            </button>
            <DocumentView document={document} onOpen={setDocument} />
          </>
        )}
        {/* Search stays mounted under an open document, so going back keeps the results. */}
        <div hidden={document !== null}>
          {view === "search" && <SearchView onOpen={setDocument} />}
        </div>
        {document === null && view === "projects" && <ProjectsView />}
        {document === null && view === "tasks" && <TasksView />}
        {document === null && view === "roles" && <RolesView />}
        {document === null && view === "catalog" && <CatalogView />}
        {document === null && view === "audit" && <AuditView />}
        {document === null && view === "grants" && <GrantsView />}
        {document === null && view === "bench" && <PlayBench onOpenAsset={openAsset} />}
        {document === null && view === "runs" && <RunsView onOpenAsset={openAsset} />}
        {document === null && view === "assets" && <AssetsView key={asset ?? 0} initial={asset} />}
        {document === null && view === "settings" && <SettingsView />}
      </main>
    </div>
  );
}
