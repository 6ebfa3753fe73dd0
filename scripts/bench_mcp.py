"""MCP benchmark: `atelier mcp` against a Python MCP server built on the official SDK's
MCPServer (FastMCP, renamed in mcp 2) over the same vault of real text (the Flask and Starlette
documentation, scripts/corpus.sh), asked the natural questions of tests/search/labels.tsv.

    python bench_mcp.py peer VAULT_DB                  # the peer server (stdio), started by `drive`
    python bench_mcp.py drive ATELIER VAULT LABELS     # measures both, prints a table and ratios

The peer answers `search(query, limit)` with SQLite FTS5 BM25 over the vault's passages (any of
the query's words, the fields weighted as Atelier weighs them, a snippet, the document's project
and path) and `read(reference)` with the document's text from its project folder. Atelier is
asked in its default mode (hybrid: words and meaning, so each query is also embedded) and in
words only; first with each question new (for Atelier, nothing cached), then 300 calls cycling
through them (Atelier answers a repeated query's vector from memory). Measured from the client (the SDK's): spawn-to-initialize (process start to the
initialize answer) and tool-call round trips, p50 and p99.
"""

import asyncio
import json
import pathlib
import re
import sqlite3
import statistics
import sys
import time

SPAWNS = 10
CALLS = 300
READ_CALLS = 200
# Read by both sides: a long page and a short one.
READS = ["document:docs:flask/quickstart.rst", "document:docs:starlette/routing.md"]
READ_LIMIT = 32 * 1024


def peer(db_path: str) -> None:
    from mcp.server.mcpserver import MCPServer

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
    server = MCPServer("python-peer")

    @server.tool()
    def search(query: str, limit: int = 10) -> dict:
        """Full-text search of the vault's passages (BM25, any of the words)."""
        words = re.findall(r"\w+", query.lower())
        expression = " OR ".join(f'"{w}"' for w in words)
        rows = conn.execute(
            # The vault's own index (migration 0006): title, aliases, heading, path, tags, body,
            # weighted as Atelier weighs them; the snippet is cut from the body (column 5).
            """SELECT c.id, bm25(passages_fts, 4.0, 4.0, 2.0, 1.5, 2.0, 1.0),
                      snippet(passages_fts, 5, char(2), char(3), '…', 12),
                      p.name, d.path, c.heading, c.start_line, c.end_line
                 FROM passages_fts JOIN chunks c ON c.id = passages_fts.rowid
                 JOIN documents d ON d.id = c.document_id JOIN projects p ON p.id = d.project_id
                WHERE passages_fts MATCH ?1
                ORDER BY bm25(passages_fts, 4.0, 4.0, 2.0, 1.5, 2.0, 1.0) LIMIT ?2""",
            (expression, limit),
        ).fetchall()
        return {
            "items": [
                {
                    "source": f"atelier://docs/{r[3]}/{r[4]}#L{r[6]}-L{r[7]}",
                    "data": {"chunk": r[0], "score": -r[1], "snippet": r[2], "heading": r[5]},
                }
                for r in rows
            ]
        }

    @server.tool()
    def read(reference: str) -> dict:
        """A document's text (document:PROJECT:PATH), from its project folder."""
        _, project, path = reference.split(":", 2)
        (root,) = conn.execute("SELECT root FROM projects WHERE name = ?1", (project,)).fetchone()
        text = (pathlib.Path(root) / path).read_text()
        return {"items": [{"source": f"atelier://docs/{project}/{path}", "data": text[:READ_LIMIT]}]}

    server.run("stdio")


def questions(labels: str) -> list[str]:
    lines = pathlib.Path(labels).read_text().splitlines()
    return [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]


def percentiles(trips: list[float]) -> dict:
    trips = sorted(trips)
    return {"p50": trips[len(trips) // 2], "p99": trips[int(len(trips) * 0.99) - 1]}


async def trips(session, tool: str, arguments: list[dict], calls: int) -> dict:
    times = []
    hits = 0
    for i in range(calls + 20):
        started = time.perf_counter()
        result = await session.call_tool(tool, arguments[i % len(arguments)])
        elapsed = (time.perf_counter() - started) * 1000
        assert not result.is_error, result
        if i >= 20:  # the first calls warm caches on both sides
            times.append(elapsed)
            answer = result.structured_content or json.loads(result.content[0].text)
            hits += len(answer["items"])
    return {**percentiles(times), "hits": hits}


async def measure(command: str, args: list[str], searches: dict, queries: list[str]) -> dict:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command, args=args)
    spawn = []
    for _ in range(SPAWNS):
        started = time.perf_counter()
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                spawn.append((time.perf_counter() - started) * 1000)
    out = {"spawn": percentiles(spawn)}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            # Each question once, after one unrelated call that loads what the first search
            # needs: no answer (and for Atelier no query vector) was asked for before.
            first = await session.call_tool("search", {"query": "warm up", "limit": 10})
            assert not first.is_error, first
            fresh = []
            for q in queries:
                started = time.perf_counter()
                result = await session.call_tool("search", {"query": q, "limit": 10})
                fresh.append((time.perf_counter() - started) * 1000)
                assert not result.is_error, result
            out["search_fresh"] = percentiles(fresh)
            for name, extra in searches.items():
                calls = [{"query": q, "limit": 10, **extra} for q in queries]
                out[name] = await trips(session, "search", calls, CALLS)
            out["read"] = await trips(session, "read", [{"reference": r} for r in READS], READ_CALLS)
    return out


def drive(atelier: str, vault: str, labels: str) -> None:
    queries = questions(labels)
    ours = asyncio.run(
        measure(
            atelier,
            ["--vault", vault, "mcp"],
            {"search": {}, "search_words": {"mode": "text"}},
            queries,
        )
    )
    theirs = asyncio.run(
        measure(sys.executable, [__file__, "peer", f"{vault}/atelier.db"], {"search": {}}, queries)
    )
    print(
        f"MCP benchmark: {SPAWNS} spawns, {CALLS} search calls ({len(queries)} natural questions,"
        f" limit 10), {READ_CALLS} reads; the same vault of real text"
    )
    print(f"{'':40}{'atelier mcp':>14}{'Python MCPServer':>18}{'ratio':>9}")
    rows = [
        ("spawn", "spawn", "spawn-to-initialize"),
        ("search_fresh", "search_fresh", "search, default, each question new"),
        ("search", "search", "search, default (hybrid vs words)"),
        ("search_words", "search", "search, words only (both)"),
        ("read", "read", "read a document"),
    ]
    for key, peer_key, label in rows:
        for p in ("p50", "p99"):
            mine, peers = ours[key][p], theirs[peer_key][p]
            print(f"{label + ' ' + p:40}{mine:>11.2f} ms{peers:>15.2f} ms{peers / mine:>8.1f}x")
    print("(ratio = peer / atelier: above 1 is faster; hits returned in total:", end=" ")
    print(
        f"atelier {ours['search']['hits']} hybrid, {ours['search_words']['hits']} words;"
        f" peer {theirs['search']['hits']})"
    )
    print(json.dumps({"atelier": ours, "python": theirs}))


if __name__ == "__main__":
    if sys.argv[1] == "peer":
        peer(sys.argv[2])
    else:
        drive(sys.argv[2], sys.argv[3], sys.argv[4])
