// Shown while the vault cannot be opened: why, in the core's words, and what can be done
// from here (retry when another process holds it, create it when there is none yet).
import { useState } from "react";
import { attempt, commands, type Status } from "../api";

export function VaultGate({ status, onOpened }: { status: Status; onOpened: (s: Status) => void }) {
  const [current, setCurrent] = useState(status);
  const [problem, setProblem] = useState("");
  const [working, setWorking] = useState(false);
  const reason = current.sealed?.reason;

  async function retry() {
    setWorking(true);
    const next = await attempt(() => commands.vaultRetry(), setProblem);
    setWorking(false);
    if (!next) return;
    if (next.sealed) setCurrent(next);
    else onOpened(next);
  }

  async function create() {
    setWorking(true);
    const report = await attempt(() => commands.vaultInit(), setProblem);
    setWorking(false);
    if (report) await retry();
  }

  return (
    <main className="gate">
      <h1>Atelier</h1>
      <section aria-labelledby="gate-title" className="card">
        <h2 id="gate-title">
          {reason === "vault_busy"
            ? "This vault is open in another program"
            : reason === "not_initialized"
              ? "No vault here yet"
              : "The vault cannot be opened"}
        </h2>
        <p className="vault-path">{current.vault}</p>
        <p role="status">
          {reason === "not_initialized"
            ? "Atelier keeps your tasks, roles, canon and audit log in a vault: a folder on this machine. Create it here to begin."
            : current.sealed_message}
        </p>
        <div className="actions">
          {reason === "not_initialized" ? (
            <button onClick={() => void create()} disabled={working}>
              Create vault here
            </button>
          ) : (
            <button onClick={() => void retry()} disabled={working}>
              Retry
            </button>
          )}
        </div>
        {problem && <p role="alert" className="error">{problem}</p>}
      </section>
    </main>
  );
}
