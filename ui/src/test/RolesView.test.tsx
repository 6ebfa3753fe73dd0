// Roles: the hierarchy nests children under parents; inherited values are marked.
import { render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import type { Role } from "../api";
import { backend, ok, resetBackend } from "./backend";
import { RolesView } from "../views/RolesView";

function role(name: string, extra: Partial<Role>): Role {
  return {
    name,
    extends: null,
    display_name: name,
    description: `${name} role`,
    system_prompt: "",
    preferred_llm: null,
    fallback_llms: [],
    capabilities: [],
    additional_capabilities: [],
    restrictions: [],
    context_requirements: [],
    validation_rules: [],
    inherited: [],
    source: "shipped",
    file: `${name}.yaml`,
    ...extra,
  } as Role;
}

describe("RolesView", () => {
  beforeEach(resetBackend);

  it("nests roles under their parents and marks what each inherits", async () => {
    backend.commands.roleList.mockImplementation(() =>
      ok([
        role("creator", {
          capabilities: ["vault_read", "llm_generate"] as Role["capabilities"],
          restrictions: ["max_tokens=4000"],
          preferred_llm: "claude",
        }),
        role("coder", {
          extends: "creator",
          capabilities: ["vault_read", "llm_generate", "code_execution"] as Role["capabilities"],
          additional_capabilities: ["code_execution"] as Role["capabilities"],
          restrictions: ["max_tokens=4000", "no_network"],
          preferred_llm: "claude",
          inherited: ["preferred_llm", "capabilities"],
        }),
      ]),
    );
    render(<RolesView />);
    const coder = await screen.findByRole("article", { name: /coder/ });
    const parentItem = screen.getByRole("article", { name: /^creator/ }).closest("li") as HTMLElement;
    expect(within(parentItem).getByRole("article", { name: /coder/ })).toBe(coder);

    const chip = (text: string) => within(coder).getByText(text, { selector: ".chip, .chip *" }).closest(".chip");
    expect(chip("vault_read")).toHaveTextContent("inherited");
    expect(chip("code_execution")).toHaveTextContent("added");
    expect(chip("code_execution")).not.toHaveTextContent("inherited");
    expect(chip("max_tokens=4000")).toHaveTextContent("inherited");
    expect(chip("no_network")).not.toHaveTextContent("inherited");
    expect(within(coder).getByText("claude").closest("dd")).toHaveTextContent("inherited");

    const creator = screen.getByRole("article", { name: /^creator/ });
    expect(within(creator).queryByText("inherited")).toBeNull();
  });
});
