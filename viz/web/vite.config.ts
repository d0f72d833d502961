import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The FastAPI app serves the built UI at "/"; in development Vite proxies the API and the
// live WebSocket to it (override the target with SAFETWIN_API, e.g. http://127.0.0.1:8001).
const api = process.env.SAFETWIN_API ?? 'http://127.0.0.1:8000'

export default defineConfig({
  base: '/',
  plugins: [vue()],
  server: {
    port: 5173,
    proxy: {
      '/api': { target: api, changeOrigin: true },
      '/ws': { target: api.replace(/^http/, 'ws'), ws: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      output: {
        // Cache-friendly vendor chunks: three, echarts and element-plus change rarely.
        codeSplitting: {
          groups: [
            { name: 'three', test: /node_modules[\\/]three[\\/]/ },
            { name: 'echarts', test: /node_modules[\\/](echarts|zrender)[\\/]/ },
            { name: 'element-plus', test: /node_modules[\\/](element-plus|@element-plus|@vueuse|@floating-ui|dayjs|lodash)/ },
          ],
        },
      },
    },
  },
})
