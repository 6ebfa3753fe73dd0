// A view's list from the backend: loaded on mount, reloadable, with the failure's words.
import { useCallback, useEffect, useState } from "react";
import { attempt, type Answer } from "./api";

/** Loads `load()` on mount; `load` must be stable (defined outside the component). */
export function useLoaded<T>(load: () => Promise<Answer<T>>, initial: T) {
  const [data, setData] = useState<T>(initial);
  const [problem, setProblem] = useState("");
  const reload = useCallback(async () => {
    const loaded = await attempt(load, setProblem);
    if (loaded) setData(loaded);
  }, [load]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, problem, reload };
}

/** Runs `reload` on mount and again each time `event` fires; `reload` must be stable. Every
 *  window hears every change, so two windows never disagree. */
export function useReloadOn(event: { listen: (cb: () => void) => Promise<() => void> }, reload: () => Promise<void>) {
  useEffect(() => {
    void reload();
    const unlisten = event.listen(() => void reload());
    return () => {
      void unlisten.then((stop) => stop());
    };
  }, [event, reload]);
}
