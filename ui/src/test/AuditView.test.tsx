// Audit: newest first as the core answers, and the verify button's verdict shown either way.
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import type { Event } from "../api";
import { backend, ok, resetBackend } from "./backend";
import { AuditView } from "../views/AuditView";

function event(seq: number, summary: string): Event {
  return { seq, at: 1_700_000_000_000 + seq, principal: "owner", action: "task.create", target: `task:${seq}`, summary, prev_hash: "", hash: "" };
}

describe("AuditView", () => {
  beforeEach(resetBackend);

  it("lists the tail newest first and shows an intact verdict", async () => {
    backend.commands.auditTail.mockImplementation(() => ok([event(2, "task 2 created"), event(1, "task 1 created")]));
    backend.commands.auditVerify.mockImplementation(() => ok({ events: 2, first_bad_seq: null, problem: null }));
    render(<AuditView />);
    await screen.findByText("task 2 created");
    const rows = screen.getAllByRole("row");
    expect(rows[1]).toHaveTextContent("task 2 created");
    expect(rows[2]).toHaveTextContent("task 1 created");
    expect(backend.commands.auditTail).toHaveBeenCalledWith(200);
    await userEvent.click(screen.getByRole("button", { name: "Verify chain" }));
    expect(await screen.findByText(/Intact: 2 events/)).toBeInTheDocument();
  });

  it("names the first bad event when the chain is broken", async () => {
    backend.commands.auditTail.mockImplementation(() => ok([]));
    backend.commands.auditVerify.mockImplementation(() =>
      ok({ events: 5, first_bad_seq: 3, problem: "event 3's hash does not match its contents" }),
    );
    render(<AuditView />);
    await userEvent.click(screen.getByRole("button", { name: "Verify chain" }));
    expect(await screen.findByText(/Broken at event 3: event 3's hash does not match/)).toBeInTheDocument();
  });
});
