/** `workerData.role` of the terminal screen mirror worker (a worker thread running the program bundle). */
export const MIRROR_WORKER_ROLE = "terminal-mirror"
