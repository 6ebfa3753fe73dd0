// Canon and shapes: create and edit through the forms; refusals stay on the form with the input.
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { backend, ok, refusal, resetBackend } from "./backend";
import { CatalogView } from "../views/CatalogView";

const { commands } = backend;
const block = { id: 1, title: "Mara", body: "Mara was born in Vell.", tags: ["character"], tier: "canon", created_at: 0, updated_at: 0 };

describe("CatalogView", () => {
  beforeEach(() => {
    resetBackend();
    commands.canonList.mockImplementation(() => ok([block]));
    commands.shapeList.mockImplementation(() => ok([]));
  });

  it("creates a canon block with its tags, and keeps the form on a refusal", async () => {
    commands.canonCreate.mockImplementationOnce(() => refusal("INVALID_INPUT", "title: must not be empty"));
    render(<CatalogView />);
    await userEvent.click(await screen.findByRole("button", { name: "New canon block" }));
    const form = screen.getByRole("form", { name: "Canon block" });
    await userEvent.type(within(form).getByLabelText(/Tags/), "place, history");
    await userEvent.click(within(form).getByRole("button", { name: "Save" }));
    expect(await within(form).findByRole("alert")).toHaveTextContent("title: must not be empty (INVALID_INPUT)");

    commands.canonCreate.mockImplementation(() => ok({ ...block, id: 2, title: "Vell" }));
    await userEvent.type(within(form).getByLabelText("Title"), "Vell");
    await userEvent.click(within(form).getByRole("button", { name: "Save" }));
    expect(commands.canonCreate).toHaveBeenLastCalledWith({ title: "Vell", body: "", tags: ["place", "history"], tier: "canon" });
    expect(screen.queryByRole("form", { name: "Canon block" })).toBeNull();
  });

  it("edits an existing canon block by id", async () => {
    commands.canonEdit.mockImplementation(() => ok(block));
    render(<CatalogView />);
    await userEvent.click(await screen.findByRole("button", { name: "Edit canon block Mara" }));
    const form = screen.getByRole("form", { name: "Canon block" });
    expect(within(form).getByLabelText("Title")).toHaveValue("Mara");
    await userEvent.click(within(form).getByRole("button", { name: "Save" }));
    expect(commands.canonEdit).toHaveBeenCalledWith(expect.objectContaining({ id: 1, title: "Mara", tags: ["character"] }));
  });

  it("creates a Markdown shape", async () => {
    commands.shapeCreate.mockImplementation(() => ok({}));
    render(<CatalogView />);
    await userEvent.click(await screen.findByRole("button", { name: "New shape" }));
    const form = screen.getByRole("form", { name: "Shape" });
    await userEvent.type(within(form).getByLabelText("Name"), "scene-outline");
    await userEvent.type(within(form).getByLabelText("Body"), "## Beats");
    await userEvent.click(within(form).getByRole("button", { name: "Save" }));
    expect(commands.shapeCreate).toHaveBeenCalledWith({ name: "scene-outline", kind: "markdown", description: "", body: "## Beats" });
  });
});
