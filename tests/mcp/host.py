"""A chat host made of the official MCP Python SDK (PyPI `mcp`), driving `atelier mcp` over
stdio the way Claude Desktop or Cursor would. Run by tests/e2e/mcp.rs:

    python host.py ATELIER_BIN VAULT before|granted
    python host.py ATELIER_BIN VAULT takeover OWNER_PID

`before`: the host holds only the default `vault_read`; `granted`: the owner has granted it
tasks_write, run_plays and bank_assets, and it calls every tool; `takeover`: it creates a task
through the owner (`atelier serve`, OWNER_PID), stops the owner with SIGINT, and goes on in the
same session. It prints one JSON report as its last line; any failed expectation raises (exit 1).
"""

import asyncio
import json
import os
import signal
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

READ_TOOLS = ["assets_list", "plays_list", "read", "run_get", "search", "tasks_list", "tasks_next"]


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
                os.kill(int(sys.argv[4]), signal.SIGINT)
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
            ready = await call("tasks_next", {})
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
            shown = await call("run_get", {"id": run["id"]})
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
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))))
