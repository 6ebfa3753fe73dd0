// The desktop's commands, by name: one list for the build script (which turns each into an
// `allow-<name>` permission) and for the tests that hold the capability file and the generated
// bindings to it. No `//!` line: this file is `include!`d, not a module.
const COMMAND_NAMES: &[&str] = &[
    "vault_status",
    "vault_retry",
    "vault_init",
    "window_open",
    "task_create",
    "task_edit",
    "task_move",
    "task_dependency_add",
    "task_dependency_remove",
    "task_transition",
    "task_show",
    "task_tree",
    "task_next",
    "role_list",
    "canon_create",
    "canon_edit",
    "canon_list",
    "shape_create",
    "shape_edit",
    "shape_list",
    "audit_tail",
    "audit_verify",
];
