// The kill switch in the top bar: one press cancels every running run and refuses new ones
// until the owner turns it off. It shows who turned it on and when.
import { useEffect, useState } from "react";
import { attempt, commands, events, type SwitchState } from "../api";

export function KillSwitch() {
  const [state, setState] = useState<SwitchState | null>(null);
  const [problem, setProblem] = useState("");

  async function refresh() {
    const status = await attempt(() => commands.vaultStatus(), setProblem);
    if (status) setState(status.kill_switch ?? null);
  }

  useEffect(() => {
    void refresh();
    const stop = events.assetsChanged.listen(() => void refresh());
    return () => {
      void stop.then((unlisten) => unlisten());
    };
  }, []);

  return (
    <span className="kill-switch">
      {state ? (
        <>
          <span role="status" className="warning">
            Runs stopped by {state.by} at {new Date(state.since).toLocaleTimeString()}
          </span>{" "}
          <button id="resume" onClick={() => void attempt(() => commands.resume(), setProblem).then(refresh)}>
            Allow runs again
          </button>
        </>
      ) : (
        <button
          id="halt"
          className="danger"
          title="Cancel every running run now and refuse new ones"
          onClick={() => void attempt(() => commands.halt("stopped from the desktop"), setProblem).then(refresh)}
        >
          Stop all runs
        </button>
      )}
      {problem && <span role="alert" className="error"> {problem}</span>}
    </span>
  );
}
