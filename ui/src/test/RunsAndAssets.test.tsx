// The play bench, assets, keys and the kill switch: the live ASSET preview with token counts and
// cuts, streaming output and gates from run events, export asking before it replaces a file,
// write-only key fields, and the kill switch's two states.
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { backend, fire as fireNow, ok, refusal, resetBackend } from "./backend";
import { AssetsView } from "../views/AssetsView";
import { KillSwitch } from "../views/KillSwitch";
import { PlayBench } from "../views/PlayBench";
import { SettingsView } from "../views/SettingsView";

const { commands } = backend;

/** Fires a backend event inside act(), as React wants state updates from outside it. */
const fire = (name: string, payload: unknown) => act(() => fireNow(name, payload));

const play = {
  name: "scene_outline",
  title: "Scene outline",
  description: "Beats for one scene.",
  domain: "writing",
  approval: "review",
  version: "abc",
  parameters: [
    { name: "scene", type: "text", description: "What happens.", required: true, default: null },
    { name: "beats", type: "integer", description: "How many beats.", required: false, default: 6, minimum: 3, maximum: 15 },
  ],
  steps: [{ id: "outline", role: "writer", task_class: "llm.creator", sources: { canon_tags: ["world"], passages: 6, budget_tokens: 1800 }, task: "…", max_tokens: 1024 }],
};

const preview = {
  play: "scene_outline",
  play_version: "abc",
  steps: [
    {
      step: "outline",
      role: "writer",
      candidates: [{ model: { provider: "stub", model: "scene" }, origin: "explicit" }],
      assembled: {
        system: "You are acting as the `writer` role.",
        prompt: "## Task\nOutline it.",
        sections: [
          { name: "Assistant", text: "", tokens: 46 },
          { name: "Sources", text: "", tokens: 50 },
          { name: "Structured output", text: "", tokens: 27 },
          { name: "Expectations", text: "", tokens: 53 },
          { name: "Task", text: "", tokens: 61 },
        ],
        sources: [{ citation: "S1", source: { kind: "canon", title: "Gull Rock", reference: "canon:1", text: "" }, tokens: 30 }],
        cut: [{ title: "House style", reference: "canon:3", tokens: 2000 }],
        budget_tokens: 1800,
        total_tokens: 252,
      },
    },
  ],
};

const asset = (state: string, extra = {}) => ({
  id: 3, title: "Scene outline: the storm", media_type: "text/markdown", state, task: null, canon: null,
  version: 1, created_at: 0, updated_at: 0, ...extra,
});

describe("PlayBench", () => {
  beforeEach(() => {
    resetBackend();
    commands.playsList.mockImplementation(() => ok([play]));
    commands.runPreview.mockImplementation(() => ok(preview));
  });

  it("previews each step's ASSET sections with token counts and what the budget cut", async () => {
    render(<PlayBench />);
    await userEvent.type(await screen.findByLabelText(/^scene/), "The storm");
    const card = await screen.findByRole("article", { name: "Prompt of step outline" });
    expect(card).toHaveTextContent("~252 tokens");
    for (const [name, tokens] of [["Assistant", 46], ["Sources", 50], ["Structured output", 27], ["Expectations", 53], ["Task", 61]]) {
      expect(within(card).getByRole("row", { name: new RegExp(`${name}`) })).toHaveTextContent(`~${tokens} tokens`);
    }
    expect(card).toHaveTextContent("[S1] Gull Rock");
    expect(card).toHaveTextContent("Cut to fit the 1800-token budget: House style");
    await waitFor(() =>
      expect(commands.runPreview).toHaveBeenLastCalledWith({
        play: "scene_outline",
        adhoc: null,
        params: { scene: "The storm", beats: 6 },
        model: null,
        task: null,
      }),
    );
  });

  it("streams the run's text, shows its gates and where it was banked", async () => {
    let finish: (v: unknown) => void = () => {};
    commands.runPlay.mockImplementation(() => new Promise((resolve) => (finish = resolve)));
    render(<PlayBench />);
    await userEvent.type(await screen.findByLabelText(/^scene/), "The storm");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    fire("runProgressed", { event: { event: "started", run: 7 } });
    fire("runProgressed", { event: { event: "step_started", run: 7, step: "outline", model: "stub:scene" } });
    fire("runProgressed", { event: { event: "text", run: 7, step: "outline", text: "## Goal\n" } });
    fire("runProgressed", { event: { event: "text", run: 7, step: "outline", text: "Reach the lamp." } });
    // Another window's run does not mix in.
    fire("runProgressed", { event: { event: "text", run: 8, step: "outline", text: "NOT OURS" } });
    const output = await screen.findByRole("article", { name: "Output of step outline" });
    await waitFor(() => expect(output).toHaveTextContent("## Goal Reach the lamp."));
    expect(output).not.toHaveTextContent("NOT OURS");
    fire("runProgressed", {
      event: {
        event: "step_finished", run: 7, step: "outline", status: "failed",
        gates: [
          { expectation: "required_sections", passed: true, detail: "" },
          { expectation: "max_words: 600", passed: false, detail: "612 words" },
        ],
      },
    });
    const gates = await within(output).findByRole("list", { name: "Gates" });
    expect(gates).toHaveTextContent("✓ required_sections");
    expect(gates).toHaveTextContent("✗ max_words: 600 — 612 words");
    fire("runProgressed", { event: { event: "banked", run: 7, asset: 3, version: 1, state: "in_review" } });
    expect(await screen.findByText(/Banked as asset 3 \(version 1, in review\)/)).toBeInTheDocument();
    finish({ status: "ok", data: { id: 7, status: "passed", input_tokens: 252, output_tokens: 40, cost_micros: 0, message: null, steps: [] } });
    expect(await screen.findByText(/252 tokens in, 40 out/)).toBeInTheDocument();
  });
});

describe("PlayBench, each part chosen by hand", () => {
  beforeEach(() => {
    resetBackend();
    commands.playsList.mockImplementation(() => ok([play]));
    commands.runPreview.mockImplementation(() => ok(preview));
    commands.roleList.mockImplementation(() =>
      ok([
        { name: "writer", display_name: "Writer" },
        { name: "researcher", display_name: "Researcher" },
      ]),
    );
    commands.canonList.mockImplementation(() =>
      ok([{ id: 1, title: "Gull Rock", body: "", tags: ["world", "places"], tier: "canon", created_at: 0, updated_at: 0 }]),
    );
    commands.shapeList.mockImplementation(() => ok([]));
    commands.projectList.mockImplementation(() => ok([{ name: "novel" }]));
  });

  it("sends the chosen role, sources, shape, expectations and task as an ad-hoc request", async () => {
    render(<PlayBench />);
    await userEvent.click(await screen.findByLabelText("Choose each part"));
    await userEvent.selectOptions(await screen.findByLabelText(/Assistant \(role\)/), "researcher");
    await userEvent.click(await screen.findByRole("checkbox", { name: "world" }));
    await userEvent.type(screen.getByLabelText(/Passages matching/), "the storm");
    await userEvent.selectOptions(screen.getByLabelText(/In project/), "novel");
    await userEvent.selectOptions(screen.getByLabelText(/Structured output/), "inline");
    await userEvent.type(screen.getByRole("textbox", { name: "Markdown template" }), "## Facts");
    await userEvent.click(screen.getByRole("button", { name: "Add expectation" }));
    const row = screen.getByRole("group", { name: "Expectation 1" });
    await userEvent.clear(within(row).getByLabelText("Value"));
    await userEvent.type(within(row).getByLabelText("Value"), "300");
    await userEvent.type(screen.getByLabelText(/^Task/), "List what is known of the lamp.");
    await waitFor(() =>
      expect(commands.runPreview).toHaveBeenLastCalledWith({
        play: "",
        adhoc: {
          role: "researcher",
          canon_tags: ["world"],
          search: "the storm",
          project: "novel",
          passages: null,
          budget_tokens: 2000,
          shape: { markdown: "## Facts" },
          expectations: [{ max_words: 300 }],
          task: "List what is known of the lamp.",
          task_class: null,
        },
        params: {},
        model: null,
        task: null,
      }),
    );
    expect(await screen.findByRole("article", { name: "Prompt of step outline" })).toHaveTextContent("~252 tokens");
  });
});

describe("AssetsView", () => {
  beforeEach(() => {
    resetBackend();
    commands.assetsList.mockImplementation(() => ok([asset("approved")]));
    commands.assetShow.mockImplementation(() =>
      ok({ asset: asset("approved"), versions: [{ version: 1, blob: "ab", size: 9, run: 7, step: "outline", created_at: 0 }], reviews: [], sources: [], shown_version: 1, content: "## Goal\n" }),
    );
    commands.assetLineage.mockImplementation(() =>
      ok({ asset: 3, runs: [{ run: 7, play: "scene_outline" }], task: null, canon: [1], documents: [], promoted_to: null, built_on: [], built_upon_by: [] }),
    );
    commands.projectList.mockImplementation(() => ok([{ name: "novel" }]));
  });

  it("asks before an export replaces a file, and replaces it only when told", async () => {
    commands.assetExport
      .mockImplementationOnce(() => refusal("FILE_EXISTS", "notes/a.md already exists", { project: "novel", path: "notes/a.md" }))
      .mockImplementationOnce(() => ok({ asset: 3, version: 1, project: "novel", path: "notes/a.md", bytes: 9, replaced: true }));
    render(<AssetsView initial={3} />);
    const form = await screen.findByRole("form", { name: "Export to a project" });
    expect(await screen.findByRole("list", { name: "Lineage" })).toHaveTextContent("Made by run 7 (scene_outline)");
    await within(form).findByRole("option", { name: "novel" });
    await userEvent.type(within(form).getByLabelText(/Path in the project/), "notes/a.md");
    await userEvent.click(within(form).getByRole("button", { name: "Export" }));
    const ask = await within(form).findByRole("alertdialog", { name: "Replace the file?" });
    expect(commands.assetExport).toHaveBeenLastCalledWith({ asset: 3, project: "novel", path: "notes/a.md", overwrite: false });
    await userEvent.click(within(ask).getByRole("button", { name: "Replace" }));
    expect(commands.assetExport).toHaveBeenLastCalledWith({ asset: 3, project: "novel", path: "notes/a.md", overwrite: true });
    expect(await within(form).findByText(/Replaced novel\/notes\/a.md/)).toBeInTheDocument();
  });

  it("offers approve and reject for an asset in review, and shows a refused rejection", async () => {
    commands.assetShow.mockImplementation(() =>
      ok({ asset: asset("in_review"), versions: [{ version: 1, blob: "ab", size: 9, run: 7, step: "outline", created_at: 0 }], reviews: [], sources: [], shown_version: 1, content: "x" }),
    );
    commands.assetReview.mockImplementation(() => refusal("INVALID_INPUT", "note: a rejection needs a note saying why"));
    render(<AssetsView initial={3} />);
    const review = await screen.findByRole("group", { name: "Review" });
    expect(within(review).getByRole("button", { name: "Approve" })).toBeInTheDocument();
    await userEvent.click(within(review).getByRole("button", { name: "Reject" }));
    expect(commands.assetReview).toHaveBeenCalledWith({ asset: 3, action: "reject", note: "" });
    expect(await screen.findByRole("alert")).toHaveTextContent("a rejection needs a note saying why (INVALID_INPUT)");
  });
});

describe("SettingsView", () => {
  beforeEach(() => {
    resetBackend();
    commands.keysList.mockImplementation(() => ok([{ name: "openai", created_at: 0, updated_at: 0, tested_at: null, test_passed: null, used_by: ["openai"] }]));
    commands.providersList.mockImplementation(() => ok([]));
    commands.routesList.mockImplementation(() => ok([]));
  });

  it("takes a key in a password field and never keeps it, even when the keychain refuses", async () => {
    commands.keySet.mockImplementation(() => refusal("KEYCHAIN_UNAVAILABLE", "no Secret Service answers"));
    render(<SettingsView />);
    const form = await screen.findByRole("form", { name: "Set a key" });
    const field = within(form).getByLabelText(/^Key/);
    expect(field).toHaveAttribute("type", "password");
    expect(field).toHaveAttribute("autocomplete", "off");
    await userEvent.type(within(form).getByLabelText(/^Name/), "anthropic");
    await userEvent.type(field, "sk-typed-secret-123");
    await userEvent.click(within(form).getByRole("button", { name: "Store in keychain" }));
    expect(commands.keySet).toHaveBeenCalledWith("anthropic", "sk-typed-secret-123");
    expect(field).toHaveValue("");
    expect(await within(form).findByRole("alert")).toHaveTextContent("KEYCHAIN_UNAVAILABLE");
    expect(document.body).not.toHaveTextContent("sk-typed-secret-123");
    expect(screen.getByRole("list", { name: "Keys" })).toHaveTextContent("openai read by openai");
  });
});

describe("KillSwitch", () => {
  beforeEach(resetBackend);

  it("stops all runs with one press and shows who did it until runs are allowed again", async () => {
    const status = (kill_switch: unknown) => ok({ vault: "/v", state: "open", kill_switch });
    commands.vaultStatus.mockImplementation(() => status(null));
    commands.halt.mockImplementation(() => ok({ by: "owner", reason: "stopped from the desktop", since: 0 }));
    render(<KillSwitch />);
    await userEvent.click(await screen.findByRole("button", { name: "Stop all runs" }));
    expect(commands.halt).toHaveBeenCalledWith("stopped from the desktop");
    commands.vaultStatus.mockImplementation(() => status({ by: "owner", reason: "", since: 0 }));
    commands.resume.mockImplementation(() => ok(null));
    fire("assetsChanged", {});
    expect(await screen.findByRole("status")).toHaveTextContent("Runs stopped by owner");
    await userEvent.click(screen.getByRole("button", { name: "Allow runs again" }));
    expect(commands.resume).toHaveBeenCalled();
  });
});
