// Projects, search and a document: adding a folder (typed or picked), ingest progress from
// events and the report with what was skipped, search as you type with marked words, and a
// document's links, backlinks and related documents with reasons.
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { backend, fire, ok, refusal, resetBackend } from "./backend";
import { ProjectsView } from "../views/ProjectsView";
import { SearchView } from "../views/SearchView";
import { DocumentView, mediaLine } from "../views/DocumentView";

const { commands } = backend;
const project = { id: 1, name: "novel", root: "/home/u/novel", watch: false, documents: 0, chunks: 0, ingested_at: null };
const report = {
  project: "novel", files: 12, added: 10, changed: 0, unchanged: 0, removed: 0, renamed: 0, chunks_written: 31,
  embedded: 31, unembedded: 0, dangling_links: 2,
  skipped: [{ reason: "symlink", description: "symbolic link (never followed)", count: 1, examples: ["escape.md"] }],
  frontmatter_errors: [], embedding_problem: null, timings: { scan: 1, read: 2, write: 3, embed: 4, graph: 5, vectors: 6 },
};
const summary = (id: number, path: string) => ({ id, project: "novel", path, title: path, kind: "markdown" });

describe("ProjectsView", () => {
  beforeEach(() => {
    resetBackend();
    commands.projectList.mockImplementation(() => ok([project]));
  });

  it("adds a typed folder, ingests it, and shows progress then the report", async () => {
    commands.projectAdd.mockImplementationOnce(() => refusal("INVALID_INPUT", "path: is not a folder"));
    render(<ProjectsView />);
    await userEvent.type(screen.getByLabelText(/or its path/), "/home/u/file.md");
    await userEvent.click(screen.getByRole("button", { name: "Add" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("path: is not a folder (INVALID_INPUT)");

    let finish: (v: unknown) => void = () => {};
    commands.projectAdd.mockImplementation(() => ok(project));
    commands.ingest.mockImplementation(() => new Promise((resolve) => (finish = resolve)));
    await userEvent.clear(screen.getByLabelText(/or its path/));
    await userEvent.type(screen.getByLabelText(/or its path/), "/home/u/novel");
    await userEvent.click(screen.getByRole("button", { name: "Add" }));
    expect(commands.projectAdd).toHaveBeenLastCalledWith({ path: "/home/u/novel", name: null });
    act(() => fire("ingestProgressed", { progress: { project: "novel", stage: "embed", done: 5, total: 31 } }));
    expect(await screen.findByText(/embed…/)).toBeInTheDocument();
    await act(async () => finish({ status: "ok", data: report }));
    const status = await screen.findByRole("status");
    expect(status).toHaveTextContent("10 added");
    expect(status).toHaveTextContent("Skipped 1 (symbolic link (never followed)): escape.md");
  });

  it("adds a folder from the OS picker, and toggles watching", async () => {
    commands.projectPickFolder.mockImplementation(() => ok("/home/u/game"));
    commands.projectAdd.mockImplementation(() => ok({ ...project, name: "game" }));
    commands.ingest.mockImplementation(() => ok({ ...report, project: "game" }));
    commands.projectWatch.mockImplementation(() => ok({ ...project, watch: true }));
    render(<ProjectsView />);
    await userEvent.click(screen.getByRole("button", { name: "Add a folder…" }));
    expect(commands.projectAdd).toHaveBeenLastCalledWith({ path: "/home/u/game", name: null });
    expect(commands.ingest).toHaveBeenLastCalledWith("game");
    await userEvent.click(await screen.findByRole("checkbox", { name: "Watch novel" }));
    expect(commands.projectWatch).toHaveBeenLastCalledWith("novel", true);
  });
});

describe("SearchView", () => {
  beforeEach(() => resetBackend());

  it("searches as you type with the chosen mode and filters, and marks matched words", async () => {
    commands.search.mockImplementation(() =>
      ok([
        {
          chunk: 7, document: 3, project: "novel", path: "chapters/01.md", title: "Chapter 1", kind: "markdown",
          heading: "Chapter 1 > The storm", lines: [5, 9],
          snippet: [{ text: "the ", highlight: false }, { text: "storm", highlight: true }, { text: " broke", highlight: false }],
          score: 0.03, text_rank: 1, vector_rank: 2,
          explain: {
            words: { rank: 1, score: 2.5 }, meaning: { rank: 2, score: 0.61 },
            fields: [{ field: "body", score: 2.5 }], fused: { rank: 1, score: 0.03 },
          },
          others: [{ chunk: 8, heading: "Chapter 1 > After", lines: [11, 14], score: 0.02 }],
        },
      ]),
    );
    let opened = 0;
    render(<SearchView onOpen={(id) => (opened = id)} />);
    await userEvent.selectOptions(screen.getByLabelText("Mode"), "text");
    await userEvent.type(screen.getByLabelText("Tag"), "chapter");
    await userEvent.type(screen.getByRole("searchbox", { name: "Search" }), "storm");
    const hit = await screen.findByRole("listitem");
    expect(within(hit).getByText("storm").tagName).toBe("MARK");
    expect(commands.search).toHaveBeenLastCalledWith({
      query: "storm", mode: "text", filter: { project: null, tag: "chapter", path: null, kind: null }, limit: 20,
      all_words: false, passages: false, explain: true,
    });
    expect(within(hit).getByText(/also lines 11–14/)).toBeTruthy();
    expect(within(hit).queryByText(/fields: body/)).toBeNull();
    await userEvent.click(within(hit).getByRole("button", { name: "Why here?" }));
    expect(within(hit).getByText("words #1 (2.5000); meaning #2 (0.6100); fused #1 (0.0300); fields: body 2.50")).toBeTruthy();
    await userEvent.click(screen.getByLabelText("every word"));
    await waitFor(() =>
      expect(commands.search).toHaveBeenLastCalledWith(expect.objectContaining({ all_words: true, passages: false })),
    );
    await userEvent.click(within(await screen.findByRole("listitem")).getByRole("button", { name: "Chapter 1" }));
    expect(opened).toBe(3);
  });

  it("shows a refusal next to the search box", async () => {
    commands.search.mockImplementation(() => refusal("INVALID_INPUT", "filter: path: unclosed character class"));
    render(<SearchView onOpen={() => {}} />);
    await userEvent.type(screen.getByLabelText("Path"), "[[x"); // "[[" types one "["
    await userEvent.type(screen.getByRole("searchbox", { name: "Search" }), "storm");
    expect(await screen.findByRole("alert")).toHaveTextContent("(INVALID_INPUT)");
  });
});

describe("DocumentView", () => {
  beforeEach(() => resetBackend());

  it("shows links (dangling marked), backlinks and related documents with reasons", async () => {
    commands.documentShow.mockImplementation(() =>
      ok({
        document: summary(1, "index.md"), file: "/home/u/novel/index.md", tags: ["bible"], aliases: [], frontmatter: "{}",
        size: 10, media: null, chunks: 2,
        links: [
          { form: "wikilink", target: "Mara", heading: null, label: null, line: 3, resolved: summary(2, "Mara.md") },
          { form: "wikilink", target: "The Drowned Bell", heading: null, label: null, line: 4, resolved: null },
        ],
        backlinks: [{ source: summary(5, "chapters/01.md"), line: 8 }],
      }),
    );
    commands.related.mockImplementation(() =>
      ok([{ document: summary(2, "Mara.md"), reasons: [{ kind: "links_to" }, { kind: "similar", score: 0.71 }], score: 1.71 }]),
    );
    let opened = 0;
    render(<DocumentView document={1} onOpen={(id) => (opened = id)} />);
    expect(await screen.findByText("The Drowned Bell (dangling)")).toBeInTheDocument();
    expect(screen.getByText("linked from here; similar (0.71)")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "chapters/01.md" }));
    expect(opened).toBe(5);
    expect(commands.documentPreview).not.toHaveBeenCalled();
  });

  it("shows an attachment's media facts and previews an image", async () => {
    const image = { ...summary(3, "Attachments/diagram.png"), kind: "image" };
    commands.documentShow.mockImplementation(() =>
      ok({
        document: image, file: "/home/u/novel/Attachments/diagram.png", tags: [], aliases: [], frontmatter: "{}",
        size: 290, media: { media_type: "image/png", width: 64, height: 48, duration_ms: null, pages: null }, chunks: 0,
        links: [], backlinks: [{ source: summary(1, "index.md"), line: 5 }],
      }),
    );
    commands.documentPreview.mockImplementation(() => ok({ media_type: "image/png", base64: "iVBORw0KGgo=" }));
    commands.related.mockImplementation(() => ok([]));
    render(<DocumentView document={3} onOpen={() => {}} />);
    expect(await screen.findByText("image/png, 64 × 48 px")).toBeInTheDocument();
    const img = await screen.findByRole("img", { name: "Preview of Attachments/diagram.png" });
    expect(img).toHaveAttribute("src", "data:image/png;base64,iVBORw0KGgo=");
    expect(commands.documentPreview).toHaveBeenCalledWith("3");
  });

  it("reads a PDF's pages and a recording's duration without a preview", async () => {
    const pdf = { ...summary(4, "guide.pdf"), kind: "pdf" };
    commands.documentShow.mockImplementation(() =>
      ok({
        document: pdf, file: "/home/u/novel/guide.pdf", tags: [], aliases: [], frontmatter: "{}",
        size: 1590, media: { media_type: "application/pdf", width: null, height: null, duration_ms: null, pages: 2 }, chunks: 2,
        links: [], backlinks: [],
      }),
    );
    commands.related.mockImplementation(() => ok([]));
    render(<DocumentView document={4} onOpen={() => {}} />);
    expect(await screen.findByText("application/pdf, 2 pages")).toBeInTheDocument();
    expect(screen.queryByRole("img")).toBeNull();
    expect(commands.documentPreview).not.toHaveBeenCalled();
    expect(mediaLine({ media_type: "audio/ogg", width: null, height: null, duration_ms: 1500, pages: null })).toBe("audio/ogg, 1.5 s");
  });
});
