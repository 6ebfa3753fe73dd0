// Audit: the newest events first, and a button that walks the hash chain and says what it found.
import { useState } from "react";
import { attempt, commands, type Event, type Verification } from "../api";
import { useLoaded } from "../useLoaded";

const TAIL = 200;
const loadTail = () => commands.auditTail(TAIL);

export function AuditView() {
  const { data: events, problem, reload } = useLoaded<Event[]>(loadTail, []);
  const [verification, setVerification] = useState<Verification | null>(null);
  const [verifyProblem, setVerifyProblem] = useState("");

  async function verify() {
    setVerification(null);
    const result = await attempt(() => commands.auditVerify(), setVerifyProblem);
    if (result) setVerification(result);
  }

  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit</h2>
      <div className="actions">
        <button onClick={() => void verify()} id="audit-verify">
          Verify chain
        </button>
        <button onClick={() => void reload()}>Refresh</button>
        <span role="status" id="audit-verdict">
          {verification &&
            (verification.first_bad_seq === null
              ? `Intact: ${verification.events} events, every hash checks out.`
              : `Broken at event ${verification.first_bad_seq}: ${verification.problem ?? "hash mismatch"}`)}
        </span>
        {verifyProblem && <p role="alert" className="error">{verifyProblem}</p>}
      </div>
      {problem && <p role="alert" className="error">{problem}</p>}
      <table className="audit">
        <caption>Newest {Math.min(events.length, TAIL)} events, newest first</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col">What</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.seq}>
              <td>{e.seq}</td>
              <td>
                <time dateTime={new Date(e.at).toISOString()}>{new Date(e.at).toLocaleString()}</time>
              </td>
              <td>{e.principal}</td>
              <td>{e.action}</td>
              <td>{e.summary}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
