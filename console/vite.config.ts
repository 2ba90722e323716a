// The console is served by the service at /console/ from app/static/console (the wheel and
// the image carry it); the build is committed and make test rebuilds it to check for drift.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  build: {
    outDir: "../app/static/console",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
  },
  server: { proxy: { "/api": "http://127.0.0.1:8000", "/openapi.json": "http://127.0.0.1:8000" } },
});
