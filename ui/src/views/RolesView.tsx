// Roles: the hierarchy as a tree; each role's capabilities, restrictions and models, with what
// it takes from its parent marked "inherited".
import { useMemo } from "react";
import { commands, type Role } from "../api";
import { useLoaded } from "../useLoaded";

/** Whether `item` of the list `field` came from the parent rather than the role itself. */
function isInherited(role: Role, parent: Role | undefined, field: "capabilities" | "restrictions", item: string) {
  if (!parent) return false;
  if (field === "capabilities") {
    return role.inherited.includes("capabilities") && !role.additional_capabilities.includes(item as never);
  }
  return parent.restrictions.includes(item);
}

const listRoles = () => commands.roleList();

export function RolesView() {
  const { data: roles, problem } = useLoaded<Role[]>(listRoles, []);

  const byName = useMemo(() => new Map(roles.map((r) => [r.name, r])), [roles]);
  const roots = roles.filter((r) => !r.extends || !byName.has(r.extends));
  const childrenOf = (name: string) => roles.filter((r) => r.extends === name);

  function branch(role: Role) {
    const kids = childrenOf(role.name);
    return (
      <li key={role.name} role="treeitem" aria-selected={false} aria-expanded={kids.length ? true : undefined}>
        <RoleCard role={role} parent={role.extends ? byName.get(role.extends) : undefined} />
        {kids.length > 0 && <ul role="group">{kids.map(branch)}</ul>}
      </li>
    );
  }

  return (
    <section aria-labelledby="roles-title">
      <h2 id="roles-title">Roles</h2>
      {problem && <p role="alert" className="error">{problem}</p>}
      <ul className="tree roles" role="tree" aria-label="Role hierarchy">
        {roots.map(branch)}
      </ul>
    </section>
  );
}

function Inherited({ when }: { when: boolean }) {
  return when ? <span className="badge inherited">inherited</span> : null;
}

function RoleCard({ role, parent }: { role: Role; parent: Role | undefined }) {
  const inherits = (field: string) => role.inherited.includes(field);
  return (
    <article className="card role" aria-labelledby={`role-${role.name}`}>
      <header>
        <h3 id={`role-${role.name}`}>
          {role.display_name} <span className="id">{role.name}</span>
        </h3>
        {role.extends && <span className="muted">extends {role.extends}</span>}
        <span className="badge">{role.source === "vault" ? "from your vault" : "shipped"}</span>
      </header>
      <p>
        {role.description} <Inherited when={inherits("description")} />
      </p>
      <dl>
        <dt>Capabilities</dt>
        <dd className="chips">
          {role.capabilities.length === 0 && <span className="muted">none</span>}
          {role.capabilities.map((c) => (
            <span key={c} className="chip">
              {c}
              <Inherited when={isInherited(role, parent, "capabilities", c)} />
              {role.additional_capabilities.includes(c) && <span className="badge">added</span>}
            </span>
          ))}
        </dd>
        <dt>Restrictions</dt>
        <dd className="chips">
          {role.restrictions.length === 0 && <span className="muted">none</span>}
          {role.restrictions.map((r) => (
            <span key={r} className="chip">
              {r}
              <Inherited when={isInherited(role, parent, "restrictions", r)} />
            </span>
          ))}
        </dd>
        <dt>Preferred model</dt>
        <dd>
          {role.preferred_llm ?? <span className="muted">routing table</span>}{" "}
          <Inherited when={inherits("preferred_llm")} />
        </dd>
        <dt>Fallback models</dt>
        <dd>
          {role.fallback_llms.length ? role.fallback_llms.join(", ") : <span className="muted">none</span>}{" "}
          <Inherited when={inherits("fallback_llms")} />
        </dd>
      </dl>
    </article>
  );
}
