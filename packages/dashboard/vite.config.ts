/**
 * Dashboard build and dev server. The hub serves `dist/` at `/`; in development the Vite server
 * forwards the hub's endpoints (Socket.IO including WebSocket upgrades, REST, metrics, health) to a
 * hub on its default port. Imports of @sealstream/protocol are type-only and erased before
 * bundling, so no alias is needed here; tsconfig.json points the type checker at the sources.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const hub = 'http://127.0.0.1:8080';

export default defineConfig(({ mode }) => ({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No source maps in the production build the hub serves; `vite build --mode development` keeps them.
    sourcemap: mode === 'development',
  },
  server: {
    proxy: {
      '/socket.io': { target: hub, ws: true },
      '/api': hub,
      '/metrics': hub,
      '/healthz': hub,
    },
  },
}));
