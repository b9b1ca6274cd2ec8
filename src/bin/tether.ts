#!/usr/bin/env node
/** The program: the CLI (the server's screen mirror worker is src/bin/mirror-worker.ts). */
import { runCli } from "../cli/main.js"

runCli(process.argv)
