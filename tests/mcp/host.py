"""A chat host made of the official MCP Python SDK (PyPI `mcp`), driving `atelier mcp` over
stdio the way Claude Desktop or Cursor would. Run by tests/e2e/mcp.rs:

    python host.py ATELIER_BIN VAULT before|granted
    python host.py ATELIER_BIN VAULT takeover OWNER_PID
    python host.py ATELIER_BIN VAULT threads
    python host.py ATELIER_BIN VAULT revision 2025-11-25|2026-07-28

`before`: the host holds only the default `vault_read`; `granted`: the owner has granted it
tasks_write, run_plays and bank_assets, and it calls every tool; `takeover`: it creates a task
through the owner (`atelier serve`, OWNER_PID), stops the owner with SIGTERM, and goes on in the
same session; `threads`: two hosts (two `atelier mcp` processes, the second reaching the vault
through the first) post to one thread at the same time, retry posts, subscribe, read and
acknowledge; `revision`: the host speaks that protocol revision (`initialize`, or `server/discover`
with every request self-contained), sees only the read tools, has `tasks_write` granted by the
CLI while its session is open, hears of it (`tools/list_changed` on the session, or on a
`subscriptions/listen` stream), and creates a task. It prints one JSON report as its last line; any failed expectation raises (exit 1).
"""

import asyncio
import json
import os
import signal
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.subscriptions import ToolsListChanged, listen
from mcp.shared.exceptions import MCPError

READ_TOOLS = ["assets_list", "plays_list", "read", "search", "tasks_list", "thread_read"]


async def two_hosts(binary: str, vault: str) -> dict:
    """Two hosts post to one thread concurrently, with retries, cursors and notifications."""
    report = {}
    updates = asyncio.Queue()

    async def on_message(message):
        if isinstance(message, types.ResourceUpdatedNotification):
            await updates.put(str(message.params.uri))

    async def nothing(message):
        pass

    def host(name):
        return StdioServerParameters(command=binary, args=["--vault", vault, "mcp"]), name

    (params_a, name_a), (params_b, name_b) = host("Thread Host A"), host("Thread Host B")
    async with stdio_client(params_a) as (ra, wa):
        async with ClientSession(ra, wa, message_handler=nothing,
                                 client_info=types.Implementation(name=name_a, version="1")) as a:
            await a.initialize()
            async with stdio_client(params_b) as (rb, wb):
                async with ClientSession(rb, wb, message_handler=on_message,
                                         client_info=types.Implementation(name=name_b,
                                                                          version="1")) as b:
                    await b.initialize()

                    async def post(session, arguments):
                        result = await session.call_tool("thread_post", arguments)
                        assert not result.is_error, (arguments, result)
                        return result.structured_content["items"][0]["data"]

                    async def read(session, arguments):
                        result = await session.call_tool("thread_read", arguments)
                        assert not result.is_error, (arguments, result)
                        return result.structured_content["items"][0]["data"]

                    first = await post(a, {"title": "Pilot", "body": "a-0", "key": "a-0"})
                    thread = first["message"]["thread"]
                    uri = f"atelier://threads/{thread}"
                    await b.subscribe_resource(uri)

                    async def burst(session, author):
                        seqs = []
                        for n in range(1, 11):
                            posted = await post(session, {"thread": thread, "body": f"{author}-{n}",
                                                          "key": f"{author}-{n}"})
                            seqs.append(posted["message"]["seq"])
                        return seqs

                    seqs_a, seqs_b = await asyncio.gather(burst(a, "a"), burst(b, "b"))
                    report["seqs_a"], report["seqs_b"] = seqs_a, seqs_b
                    # Each host's own posts keep their order; together they fill 1..21 with no gap.
                    assert seqs_a == sorted(seqs_a) and seqs_b == sorted(seqs_b), (seqs_a, seqs_b)
                    assert sorted([first["message"]["seq"]] + seqs_a + seqs_b) == list(range(1, 22))
                    report["interleaved"] = seqs_a != list(range(2, 12))

                    # A retried post answers the first message; the same key from another
                    # author is another message.
                    again = await post(a, {"thread": thread, "body": "a-3 again", "key": "a-3"})
                    assert again["created"] is False and again["message"]["body"] == "a-3", again
                    assert again["message"]["seq"] == seqs_a[2], again
                    other = await post(b, {"thread": thread, "body": "b says a-3", "key": "a-3"})
                    assert other["created"] is True and other["message"]["seq"] == 22, other

                    report["update"] = await asyncio.wait_for(updates.get(), timeout=15)

                    # Cursors: B reads everything, acknowledges 10, then reads only what follows.
                    page = await read(b, {"thread": thread})
                    assert [m["seq"] for m in page["messages"]] == list(range(1, 23)), page
                    assert page["cursor"] == 0, page
                    page = await read(b, {"thread": thread, "ack": 10})
                    assert page["cursor"] == 10, page
                    assert [m["seq"] for m in page["messages"]] == list(range(11, 23)), page
                    page = await read(b, {"thread": thread, "ack": 4})
                    assert page["cursor"] == 10, "a cursor never moves back"
                    try:
                        await b.call_tool("thread_read", {"thread": thread, "ack": 99})
                        raise AssertionError("acknowledged past the end")
                    except MCPError as e:
                        assert e.data["code"] == "INVALID_INPUT", e.data
                    # A's cursor is its own.
                    page = await read(a, {"thread": thread})
                    assert page["cursor"] == 0 and len(page["messages"]) == 22, page
                    resource = await b.read_resource(uri)
                    shown = json.loads(resource.contents[0].text)
                    assert shown["messages"][-1]["seq"] == 22, shown
                    report["authors"] = sorted({m["author"] for m in page["messages"]})
    return report


async def revision(binary: str, vault: str, version: str) -> dict:
    """One host on protocol `version`, told of a grant made while it is connected."""
    report = {}
    name = f"Revision Host {version}"
    principal = "mcp:" + name.lower().replace(" ", "-")
    changed = asyncio.Event()

    async def on_message(message):
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async def grant():
        cli = await asyncio.create_subprocess_exec(
            binary, "--vault", vault, "grants", "add", principal, "tasks_write",
            stdout=asyncio.subprocess.DEVNULL)
        assert await cli.wait() == 0, "atelier grants add failed"

    async def names(session):
        return sorted(t.name for t in (await session.list_tools()).tools)

    params = StdioServerParameters(command=binary, args=["--vault", vault, "mcp"])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, message_handler=on_message,
                                 client_info=types.Implementation(name=name, version="1")) as session:
            if version == "2025-11-25":
                await session.initialize()
            else:
                await session.discover()
            report["protocol"] = session.protocol_version
            report["before"] = await names(session)
            if version == "2025-11-25":
                await grant()
                await asyncio.wait_for(changed.wait(), timeout=15)
                report["heard"] = "session"
            else:
                async with listen(session, tools_list_changed=True) as stream:
                    await grant()
                    event = await asyncio.wait_for(stream.__anext__(), timeout=15)
                    assert isinstance(event, ToolsListChanged), event
                    report["heard"] = "listen"
            report["after"] = await names(session)
            result = await session.call_tool("tasks_create", {"title": f"From {version}"})
            assert not result.is_error, result
            assert json.loads(result.content[0].text) == result.structured_content, result
            report["created"] = result.structured_content["items"][0]["data"]["title"]
    return report


async def main(binary: str, vault: str, phase: str) -> dict:
    report = {"called": [], "progress": 0}
    resource_updates = asyncio.Queue()

    async def on_message(message):
        if isinstance(message, types.ResourceUpdatedNotification):
            await resource_updates.put(str(message.params.uri))

    params = StdioServerParameters(command=binary, args=["--vault", vault, "mcp"])
    async with stdio_client(params) as (read, write):
        async with ClientSession(
            read,
            write,
            message_handler=on_message,
            client_info=types.Implementation(name="Atelier Test Host", version="1.0"),
        ) as session:
            init = await session.initialize()
            report["protocol"] = init.protocol_version
            report["server"] = init.server_info.name

            async def call(name, arguments):
                report["called"].append(name)
                result = await session.call_tool(name, arguments)
                assert not result.is_error, (name, result)
                return result.structured_content

            names = sorted(t.name for t in (await session.list_tools()).tools)
            report["tools"] = names
            if phase == "before":
                assert names == READ_TOOLS, names
                try:
                    await session.call_tool("tasks_create", {"title": "not yet"})
                    raise AssertionError("tasks_create passed without a grant")
                except MCPError as e:
                    report["denied_code"] = e.code
                    assert e.data["code"] == "DENIED", e.data
                return report
            if phase == "takeover":
                await call("tasks_create", {"title": "asked while the owner ran"})
                os.kill(int(sys.argv[4]), signal.SIGTERM)
                await asyncio.sleep(2)
                for attempt in range(3):
                    try:
                        listed = await call("tasks_list", {})
                        break
                    except MCPError as e:
                        # Asked while the owner was leaving: the sidecar says so; ask again.
                        assert e.data["code"] == "OWNER_GONE", e
                        report["owner_gone"] = True
                        await asyncio.sleep(1)
                titles = [t["data"]["title"] for t in listed["items"]]
                assert "asked while the owner ran" in titles, titles
                await call("tasks_create", {"title": "asked after the takeover"})
                report["after_takeover"] = len(titles) + 1
                return report
            assert "tasks_create" in names and "play_run" in names, names

            found = await call("search", {"query": "keeper lamp ships", "limit": 3})
            assert found["vault_data"] is True and found["items"], found
            source = found["items"][0]["source"]
            assert source.startswith("atelier://docs/novel/"), source
            path = source[len("atelier://docs/novel/"):].split("#")[0]
            doc = await call("read", {"reference": f"document:novel:{path}"})
            assert any("keeper" in p["data"]["body"] for p in doc["items"]), doc

            created = await call(
                "tasks_create",
                {
                    "title": "Chapter 12",
                    "subtasks": [{"title": "outline"}, {"title": "draft", "after": [0]}],
                },
            )
            ids = [item["data"]["id"] for item in created["items"]]
            assert len(ids) == 3, created
            updated = await call("tasks_update", {"id": ids[1], "action": "activate"})
            assert updated["items"][0]["data"]["state"] == "active", updated
            listed = await call("tasks_list", {})
            assert listed["total"] == 3, listed
            ready = await call("tasks_list", {"ready": True})
            assert any(t["data"]["id"] == ids[1] for t in ready["items"]), ready
            task = await call("read", {"reference": f"task:{ids[2]}"})
            assert task["items"][0]["data"]["depends_on"] == [ids[1]], task

            plays = await call("plays_list", {})
            assert any(p["data"]["name"] == "scene_outline" for p in plays["items"]), plays

            async def on_progress(progress, total, message):
                report["progress"] += 1

            report["called"].append("play_run")
            ran = await session.call_tool(
                "play_run",
                {
                    "play": "scene_outline",
                    "params": {"scene": "the lamp", "point_of_view": "Mara"},
                    "model": "stub:scene",
                },
                progress_callback=on_progress,
            )
            assert not ran.is_error, ran
            run = ran.structured_content["items"][0]["data"]
            assert run["status"] == "passed", run
            shown = await call("read", {"reference": f"run:{run['id']}"})
            assert shown["items"][0]["source"] == f"atelier://runs/{run['id']}", shown
            # The play's `approval: review` banked it already: banking again is refused.
            report["called"].append("asset_bank")
            try:
                await session.call_tool("asset_bank", {"run": run["id"]})
                raise AssertionError("a banked run was banked twice")
            except MCPError as e:
                assert e.data["code"] == "ALREADY_EXISTS", e.data
            assets = await call("assets_list", {})
            assert assets["items"], assets
            try:
                await session.call_tool("tasks_create", {"title": 5})
                raise AssertionError("a bad argument passed")
            except MCPError as e:
                assert e.code == -32602, e

            # Resources: the templates, a read, and a subscription that hears of a change.
            templates = await session.list_resource_templates()
            report["templates"] = sorted(t.uri_template for t in templates.resource_templates)
            task_uri = f"atelier://tasks/{ids[0]}"
            read = await session.read_resource(task_uri)
            assert json.loads(read.contents[0].text)["title"] == "Chapter 12", read
            doc = await session.read_resource(f"atelier://docs/novel/{path}")
            assert "keeper" in doc.contents[0].text, doc
            await session.subscribe_resource(task_uri)
            await call("tasks_update", {"id": ids[0], "title": "Chapter 12, revised"})
            report["updated"] = await asyncio.wait_for(resource_updates.get(), timeout=15)

            # Prompts: the plays, one assembled.
            prompts = await session.list_prompts()
            names = [p.name for p in prompts.prompts]
            assert "scene_outline" in names, names
            got = await session.get_prompt(
                "scene_outline", {"scene": "the lamp in the storm", "point_of_view": "Mara"}
            )
            text = got.messages[0].content.text
            assert "## Task" in text and "the lamp in the storm" in text, text
            report["prompt_chars"] = len(text)
    return report


if __name__ == "__main__":
    if sys.argv[3] == "revision":
        print(json.dumps(asyncio.run(revision(sys.argv[1], sys.argv[2], sys.argv[4]))))
    elif sys.argv[3] == "threads":
        print(json.dumps(asyncio.run(two_hosts(sys.argv[1], sys.argv[2]))))
    else:
        print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))))
