// Built by `make` (npm ci + npm run build) into web/dist; `tlm serve` serves it at / (client
// routes under /ui/, hashed files under /assets/). No env variables are read into the bundle
// (envPrefix is unguessable), so nothing secret can leak into it.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  base: "/",
  envPrefix: "TLM_WEB_PUBLIC_",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 5000, // plotly is one lazily loaded chunk (~4.6 MB, ~1.4 MB gzipped)
    rolldownOptions: { checks: { pluginTimings: false } }, // no profiling advice in make's output
  },
});
