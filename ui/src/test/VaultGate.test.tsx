// The vault gate: a vault held by another process is explained plainly with a retry; a missing
// vault can be created; nothing crashes.
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Status } from "../api";
import { backend, ok, refusal, resetBackend } from "./backend";
import { VaultGate } from "../views/VaultGate";

const { commands } = backend;

function sealed(reason: Status["sealed"], message: string): Status {
  return {
    vault: "/home/mara/vault",
    state: "sealed",
    sealed: reason,
    sealed_message: message,
    schema_version: null,
    counts: null,
    graph: null,
  } as Status;
}
const open = { ...sealed(null, ""), state: "open", sealed: null, sealed_message: null } as Status;
const busy = sealed(
  { reason: "vault_busy", pid: 4242 },
  "the vault is in use by process 4242; close that Atelier (app, CLI or MCP sidecar) and try again",
);

describe("VaultGate", () => {
  beforeEach(resetBackend);

  it("says plainly that another process holds the vault, and stays put while it still does", async () => {
    commands.vaultRetry.mockImplementation(() => ok(busy));
    const onOpened = vi.fn();
    render(<VaultGate status={busy} onOpened={onOpened} />);
    expect(screen.getByRole("heading", { name: "This vault is open in another program" })).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("in use by process 4242");
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(commands.vaultRetry).toHaveBeenCalledTimes(1);
    expect(onOpened).not.toHaveBeenCalled();
    expect(screen.getByRole("status")).toHaveTextContent("in use by process 4242");
  });

  it("opens the workbench once a retry finds the vault free", async () => {
    commands.vaultRetry.mockImplementation(() => ok(open));
    const onOpened = vi.fn();
    render(<VaultGate status={busy} onOpened={onOpened} />);
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(onOpened).toHaveBeenCalledWith(open);
  });

  it("offers to create a missing vault, and shows a refused creation", async () => {
    const missing = sealed({ reason: "not_initialized" }, "no vault here yet; create one with `atelier init`");
    commands.vaultInit.mockImplementation(() => refusal("IO", "file access failed: permission denied"));
    const onOpened = vi.fn();
    render(<VaultGate status={missing} onOpened={onOpened} />);
    await userEvent.click(screen.getByRole("button", { name: "Create vault here" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("permission denied (IO)");
    expect(onOpened).not.toHaveBeenCalled();

    commands.vaultInit.mockImplementation(() => ok({ vault: missing.vault, created: true, written: [] }));
    commands.vaultRetry.mockImplementation(() => ok(open));
    await userEvent.click(screen.getByRole("button", { name: "Create vault here" }));
    expect(onOpened).toHaveBeenCalledWith(open);
  });
});
