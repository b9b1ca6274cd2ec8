#!/usr/bin/env node
/**
 * The program: the CLI, or (started by the server as a worker thread of this
 * same bundle) the terminal screen mirror worker, loaded only there.
 */
import { isMainThread, workerData } from "node:worker_threads"
import { runCli } from "../cli/main.js"
import { MIRROR_WORKER_ROLE } from "../services/terminal/mirror-role.js"

const role: unknown = isMainThread ? null : Reflect.get(Object(workerData), "role")
if (role === MIRROR_WORKER_ROLE) void import("../services/terminal/MirrorWorker.js").then((worker) => worker.runMirrorWorker())
else runCli(process.argv)
