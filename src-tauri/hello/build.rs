//! Generates the hello-world's Tauri context.

fn main() {
    tauri_build::build();
}
