//! Least privilege, read from the files Tauri builds from: the capability grants our commands
//! and the two event calls and nothing else, on our windows only; the CSP is set and names no
//! remote origin. (The e2e run shows the CSP does not break IPC in a release build.)

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn json(relative: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    let text = std::fs::read_to_string(&path).expect("read config");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn the_capability_grants_only_our_commands_on_our_windows() {
    let capability = json("capabilities/main.json");
    let granted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| p.as_str().expect("permission name").to_owned())
        .collect();
    let mut expected: BTreeSet<String> = atelier_desktop::command_names()
        .iter()
        .map(|name| format!("allow-{}", name.replace('_', "-")))
        .collect();
    expected.insert("core:event:allow-listen".to_owned());
    expected.insert("core:event:allow-unlisten".to_owned());
    assert_eq!(granted, expected);
    assert_eq!(capability["windows"], serde_json::json!(["main", "main-*"]));
    assert!(
        capability.get("remote").is_none(),
        "no remote URL may reach IPC"
    );
}

#[test]
fn the_config_sets_a_csp_without_remote_origins_or_eval() {
    let config = json("tauri.conf.json");
    let security = &config["app"]["security"];
    let csp = security["csp"].as_object().expect("a CSP is set");
    for directive in [
        "default-src",
        "script-src",
        "style-src",
        "connect-src",
        "object-src",
    ] {
        assert!(csp.contains_key(directive), "CSP lacks {directive}");
    }
    for (directive, sources) in csp {
        let sources = sources.as_str().expect("directive text");
        assert!(!sources.contains("unsafe-eval"), "{directive} allows eval");
        assert!(
            !sources.contains("unsafe-inline"),
            "{directive} allows inline code"
        );
        for source in sources.split_whitespace() {
            let remote = source.starts_with("http") && source != "http://ipc.localhost";
            assert!(!remote && source != "*", "{directive} allows {source}");
        }
    }
    assert_eq!(security["capabilities"], serde_json::json!(["main"]));
    assert_eq!(
        security["dangerousDisableAssetCspModification"],
        Value::Null
    );
    assert_eq!(config["app"]["withGlobalTauri"], Value::Bool(false));
}
