// Vite builds the workbench into ui/dist, which Tauri embeds; Vitest runs the component tests.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
  // Tauri loads the built files from its own protocol, so paths must be relative.
  base: "./",
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    // Tests type one keystroke at a time; on a two-core machine busy compiling, the default 5 s
    // was measured too short for the longest forms (the tests wait on what they see, never sleep).
    testTimeout: 30_000,
  },
});
