/**
 * The terminal screen mirror worker. The server starts this file
 * (`dist/mirror-worker.cjs`: a bundle of its own, holding only the mirror
 * and xterm) as a worker thread; see src/services/terminal/MirrorWorker.ts.
 */
import { runMirrorWorker } from "../services/terminal/MirrorWorker.js"

runMirrorWorker()
