// Grants: the list with each grant's status and term, giving one for a while, revoking a live
// one, a refusal shown in the core's words, and a change made elsewhere (the feed's event).
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import type { GrantView } from "../api";
import { backend, fire, ok, refusal, resetBackend } from "./backend";
import { GrantsView } from "../views/GrantsView";

function grant(id: number, extra: Partial<GrantView> = {}): GrantView {
  return {
    id,
    principal: "mcp:claude-desktop",
    capability: "tasks_write",
    scope: null,
    expires_at: null,
    created_at: 1_700_000_000_000,
    revoked_at: null,
    status: "live",
    ...extra,
  };
}

describe("GrantsView", () => {
  beforeEach(resetBackend);

  it("lists grants with their status and offers revoke on live ones only", async () => {
    backend.commands.grantList.mockImplementation(() =>
      ok([grant(1), grant(2, { capability: "run_plays", status: "revoked", revoked_at: 1_700_000_100_000 })]),
    );
    backend.commands.grantRevoke.mockImplementation(() => ok(grant(1, { status: "revoked" })));
    render(<GrantsView />);
    await screen.findByText("run_plays");
    const rows = screen.getAllByRole("row");
    expect(rows[1]).toHaveTextContent("tasks_write");
    expect(rows[1]).toHaveTextContent("until revoked");
    expect(within(rows[2]).queryByRole("button")).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Revoke tasks_write from mcp:claude-desktop" }));
    expect(backend.commands.grantRevoke).toHaveBeenCalledWith(1);
    expect(backend.commands.grantList).toHaveBeenCalledTimes(2);
  });

  it("gives a capability for seven days by default", async () => {
    backend.commands.grantList.mockImplementation(() => ok([]));
    backend.commands.grantAdd.mockImplementation(() => ok(grant(3)));
    render(<GrantsView />);
    await screen.findByText(/No grants yet/);
    await userEvent.click(screen.getByRole("button", { name: "Give" }));
    expect(backend.commands.grantAdd).toHaveBeenCalledWith({
      principal: "mcp:claude-desktop",
      capability: "tasks_write",
      scope: null,
      expires_in: 7 * 24 * 3_600_000,
    });
  });

  it("asks for a file scope only for file capabilities, and shows a refusal", async () => {
    backend.commands.grantList.mockImplementation(() => ok([]));
    backend.commands.grantAdd.mockImplementation(() =>
      refusal("INVALID_INPUT", "principal: a principal is `owner`, `mcp:<client>` or `role:<name>`"),
    );
    render(<GrantsView />);
    expect(screen.queryByLabelText("On files")).toBeNull();
    await userEvent.selectOptions(screen.getByLabelText("May"), "file_read");
    await userEvent.type(screen.getByLabelText("On files"), "chapters/**");
    await userEvent.clear(screen.getByLabelText("Who"));
    await userEvent.type(screen.getByLabelText("Who"), "claude");
    await userEvent.click(screen.getByRole("button", { name: "Give" }));
    expect(backend.commands.grantAdd).toHaveBeenCalledWith(
      expect.objectContaining({ principal: "claude", capability: "file_read", scope: "chapters/**" }),
    );
    expect(await screen.findByRole("alert")).toHaveTextContent("(INVALID_INPUT)");
  });

  it("reloads when grants change elsewhere", async () => {
    backend.commands.grantList.mockImplementation(() => ok([]));
    render(<GrantsView />);
    await screen.findByText(/No grants yet/);
    backend.commands.grantList.mockImplementation(() => ok([grant(4)]));
    fire("grantsChanged", {});
    expect(await screen.findByText("tasks_write")).toBeInTheDocument();
  });
});
