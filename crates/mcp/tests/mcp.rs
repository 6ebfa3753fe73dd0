//! The MCP server in-process over `tokio::io::duplex`, with rmcp's own client: the caller is
//! `mcp:<clientInfo.name>`, and its grants decide what a tool may do.

use atelier_core::Atelier;
use atelier_core::api::GrantAdd;
use atelier_core::auth::{Capability, Principal};
use atelier_core::clock::SystemClock;
use atelier_mcp::VaultServer;
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, Implementation, InitializeRequestParams,
};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_is_its_own_principal_and_gets_only_what_it_was_granted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = dir.path().join("vault");
    Atelier::init(&vault, &SystemClock, false).expect("init");
    let atelier = Arc::new(Atelier::open(atelier_core::OpenOptions::new(vault)));
    let (server_side, client_side) = tokio::io::duplex(64 * 1024);
    let server = VaultServer::new(Arc::clone(&atelier));
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_side).await {
            let _ = running.waiting().await;
        }
    });
    let client = InitializeRequestParams::new(
        ClientCapabilities::default(),
        Implementation::new("Test Host", "1.0"),
    )
    .serve(client_side)
    .await
    .expect("initialize");
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["search", "tasks_next"]);

    let denied = client
        .call_tool(CallToolRequestParams::new("tasks_next"))
        .await
        .expect("tools/call");
    assert_eq!(denied.is_error, Some(true));
    let text = serde_json::to_string(&denied.content).expect("json");
    assert!(
        text.contains("mcp:test-host") && text.contains("DENIED"),
        "{text}"
    );

    atelier
        .grant_add(
            &Principal::Owner,
            GrantAdd {
                principal: Principal::Mcp("test-host".to_owned()),
                capability: Capability::VaultRead,
                scope: None,
                expires_in: None,
            },
        )
        .expect("grant");
    let allowed = client
        .call_tool(CallToolRequestParams::new("tasks_next"))
        .await
        .expect("tools/call");
    assert_eq!(allowed.is_error, Some(false), "{allowed:?}");
    let _ = client.cancel().await;
}
