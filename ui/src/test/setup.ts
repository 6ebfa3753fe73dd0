// Component tests: DOM matchers, the stand-in backend in place of the generated bindings, and a
// fresh DOM after each test.
import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach, vi } from "vitest";

vi.mock("../bindings", async () => {
  const { backend } = await import("./backend");
  return { commands: backend.commands, events: backend.events };
});

afterEach(() => cleanup());
