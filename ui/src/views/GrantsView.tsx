// Grants: what each chat host (`mcp:<client>`) and role may do beyond reading, given for a while
// or until revoked, and taken back with one click; a host's tool list follows at once.
import { useEffect, useState } from "react";
import { attempt, commands, events, type Capability, type GrantView } from "../api";
import { useLoaded } from "../useLoaded";

const listGrants = () => commands.grantList();

/** What the owner may hand out; keys and grants themselves stay the owner's. */
const GIVEABLE: Capability[] = [
  "vault_read",
  "vault_write",
  "tasks_write",
  "spawn_tasks",
  "run_plays",
  "bank_assets",
  "approve_assets",
  "file_read",
  "file_write",
  "code_execution",
];

const HOUR = 3_600_000;
const DURATIONS: Array<{ label: string; ms: number | null }> = [
  { label: "1 hour", ms: HOUR },
  { label: "1 day", ms: 24 * HOUR },
  { label: "7 days", ms: 7 * 24 * HOUR },
  { label: "30 days", ms: 30 * 24 * HOUR },
  { label: "Until revoked", ms: null },
];

/** When the grant stops (or stopped) counting; the status column says whether it has. */
function until(g: GrantView): string {
  const end = g.revoked_at ?? g.expires_at;
  return end === null ? "until revoked" : `until ${new Date(end).toLocaleString()}`;
}

export function GrantsView() {
  const { data: grants, problem, reload } = useLoaded<GrantView[]>(listGrants, []);
  const [principal, setPrincipal] = useState("mcp:claude-desktop");
  const [capability, setCapability] = useState<Capability>("tasks_write");
  const [duration, setDuration] = useState(2);
  const [scope, setScope] = useState("");
  const [error, setError] = useState("");

  useEffect(() => {
    const changed = events.grantsChanged.listen(() => void reload());
    return () => void changed.then((stop) => stop());
  }, [reload]);

  const scoped = capability === "file_read" || capability === "file_write";

  async function give(e: React.FormEvent) {
    e.preventDefault();
    const added = await attempt(
      () =>
        commands.grantAdd({
          principal: principal.trim(),
          capability,
          scope: scoped && scope.trim() ? scope.trim() : null,
          expires_in: DURATIONS[duration].ms,
        }),
      setError,
    );
    if (added) await reload();
  }

  async function revoke(id: number) {
    if (await attempt(() => commands.grantRevoke(id), setError)) await reload();
  }

  return (
    <section aria-labelledby="grants-title">
      <h2 id="grants-title">Grants</h2>
      <p className="hint">
        Chat hosts connect as <code>mcp:&lt;their name&gt;</code> and may only read until you give them more.
      </p>
      <form onSubmit={(e) => void give(e)} aria-label="Give a capability" className="actions">
        <label>
          Who
          <input value={principal} onChange={(e) => setPrincipal(e.target.value)} id="grant-principal" required />
        </label>
        <label>
          May
          <select value={capability} onChange={(e) => setCapability(e.target.value as Capability)} id="grant-capability">
            {GIVEABLE.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        {scoped && (
          <label>
            On files
            <input value={scope} onChange={(e) => setScope(e.target.value)} placeholder="chapters/**" id="grant-scope" />
          </label>
        )}
        <label>
          For
          <select value={duration} onChange={(e) => setDuration(Number(e.target.value))} id="grant-duration">
            {DURATIONS.map((d, i) => (
              <option key={d.label} value={i}>
                {d.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" id="grant-give">
          Give
        </button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {problem && <p role="alert" className="error">{problem}</p>}
      <table className="grants">
        <caption>{grants.length === 0 ? "No grants yet: every host may only read." : "Every grant, newest last"}</caption>
        <thead>
          <tr>
            <th scope="col">Who</th>
            <th scope="col">May</th>
            <th scope="col">On</th>
            <th scope="col">Status</th>
            <th scope="col">Lasts</th>
            <th scope="col" aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {grants.map((g) => (
            <tr key={g.id}>
              <td>{g.principal}</td>
              <td>{g.capability}</td>
              <td>{g.scope ?? "everything"}</td>
              <td>{g.status}</td>
              <td>{until(g)}</td>
              <td>
                {g.status === "live" && (
                  <button onClick={() => void revoke(g.id)} aria-label={`Revoke ${g.capability} from ${g.principal}`}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
