//! A Tauri hello-world: one window showing one static page, no commands. The desktop start-up
//! benchmark (scripts/bench-desktop.sh) measures it beside Atelier.

fn main() -> tauri::Result<()> {
    tauri::Builder::default().run(tauri::generate_context!())
}
