"""MCP benchmark: `atelier mcp` against a Python MCP server built on the official SDK's
MCPServer (FastMCP, renamed in mcp 2) answering the same full-text search on the same vault.

    python bench_mcp.py peer VAULT_DB          # the peer server (stdio), started by `drive`
    python bench_mcp.py drive ATELIER VAULT    # measures both, prints a table and ratios

Both answer `search(query, limit)` in text mode: SQLite FTS5 BM25 over the vault's passages,
with a snippet and the document's project and path. Measured from the client (the SDK's):
spawn-to-initialize (process start to the initialize answer) and tool-call round trips.
"""

import asyncio
import json
import sqlite3
import statistics
import sys
import time

QUERIES = ["keeper lamp", "ships tide", "dawn burns", "section keeper counts", "lamp"]
SPAWNS = 10
CALLS = 300


def peer(db_path: str) -> None:
    from mcp.server.mcpserver import MCPServer

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
    server = MCPServer("python-peer")

    @server.tool()
    def search(query: str, limit: int = 10) -> dict:
        """Full-text search of the vault's passages (BM25)."""
        words = [w.lower() for w in query.split() if w.strip()]
        expression = " AND ".join(f'"{w}"' for w in words)
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

    server.run("stdio")


async def measure(command: str, args: list[str], extra: dict) -> dict:
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
    trips = []
    hits = 0
    size = 0
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            for i in range(CALLS + 20):
                query = QUERIES[i % len(QUERIES)]
                started = time.perf_counter()
                result = await session.call_tool("search", {"query": query, "limit": 10, **extra})
                elapsed = (time.perf_counter() - started) * 1000
                assert not result.is_error, result
                if i >= 20:  # the first calls warm caches on both sides
                    trips.append(elapsed)
                    answer = result.structured_content or json.loads(result.content[0].text)
                    hits += len(answer["items"])
                    size += len(result.model_dump_json(by_alias=True, exclude_none=True))
    trips.sort()
    return {
        "spawn_p50": statistics.median(spawn),
        "call_p50": trips[len(trips) // 2],
        "call_p99": trips[int(len(trips) * 0.99) - 1],
        "hits": hits,
        "bytes_per_answer": size // CALLS,
    }


def drive(atelier: str, vault: str) -> None:
    # Atelier's search is hybrid (words and meaning) unless told; the peer only has words.
    ours = asyncio.run(measure(atelier, ["--vault", vault, "mcp"], {"mode": "text"}))
    theirs = asyncio.run(measure(sys.executable, [__file__, "peer", f"{vault}/atelier.db"], {}))
    assert ours["hits"] == theirs["hits"], (ours, theirs)
    print(f"MCP benchmark: {SPAWNS} spawns, {CALLS} search calls (text mode, limit 10), same vault")
    print(f"{'':26}{'atelier mcp':>14}{'Python MCPServer':>18}{'ratio':>9}")
    for key, label in [
        ("spawn_p50", "spawn-to-initialize p50"),
        ("call_p50", "search round trip p50"),
        ("call_p99", "search round trip p99"),
    ]:
        ratio = theirs[key] / ours[key]
        print(f"{label:26}{ours[key]:>11.2f} ms{theirs[key]:>15.2f} ms{ratio:>8.1f}x")
    print(f"(both answered {ours['hits']} hits in total; ratio = peer / atelier, above 1 is faster)")
    print(
        f"answer size: atelier {ours['bytes_per_answer']} bytes, peer {theirs['bytes_per_answer']} bytes"
        " (atelier's carries each hit's provenance and title, as text and as structured content)"
    )
    print(json.dumps({"atelier": ours, "python": theirs}))


if __name__ == "__main__":
    if sys.argv[1] == "peer":
        peer(sys.argv[2])
    else:
        drive(sys.argv[2], sys.argv[3])
