/**
 * The `tether` command tree and how it runs: every failure becomes one line
 * on stderr and a non-zero exit code; nothing else is printed.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { TETHER_VERSION } from "../domain/version.js"
import { ContextRepo } from "../services/contexts/ContextRepo.js"
import { TetherHome } from "../services/home/TetherHome.js"
import { auditCommand } from "./audit.js"
import { connectCommand } from "./connect.js"
import { contextsCommand } from "./contexts.js"
import { CliError, exitCodeOf, renderCliError } from "./errors.js"
import { harnessesCommand } from "./harnesses.js"
import { isRootHelpRequest, renderHelpDoc, rootHelpDoc } from "./help.js"
import { hostCommand } from "./host.js"
import { keysCommand } from "./keys.js"
import { stopCommand, upCommand } from "./local.js"
import { modelsCommand } from "./models.js"
import { providersCommand } from "./providers.js"
import { serverCommand } from "./server.js"
import { configureCommand, setupCommands } from "./setup.js"
import { hostsCommand, runCommand as runSessionCommand, sessionsCommand } from "./sessions.js"
import { attachCommand, controlCommand } from "./terminal.js"
import { tokensCommand, whoamiCommand } from "./tokens.js"
import { usageCommand } from "./usage.js"

export const rootCommand = Command.make("tether").pipe(
  Command.withDescription("Watch and drive coding agents on your machines from anywhere."),
  Command.withSubcommands([
    connectCommand,
    contextsCommand,
    runSessionCommand,
    attachCommand,
    controlCommand,
    sessionsCommand,
    hostsCommand,
    hostCommand,
    harnessesCommand,
    upCommand,
    stopCommand,
    whoamiCommand,
    tokensCommand,
    auditCommand,
    providersCommand,
    keysCommand,
    modelsCommand,
    usageCommand,
    serverCommand,
    configureCommand,
    ...setupCommands
  ])
)

const app = { name: "tether", version: TETHER_VERSION } as const

export const runCommand = Command.run(rootCommand, app)

/** What `tether`, `tether --help` and `tether -h` print (the same as `runCommand` prints for them). */
export const rootHelpText = (): string => renderHelpDoc(rootHelpDoc(rootCommand, app, CliConfig.defaultConfig))

/**
 * What the commands and @effect/cli need (files, paths, the terminal for prompts). Not all of
 * NodeContext: its command executor and worker manager would load child_process and worker
 * code on every start for nothing.
 */
const PlatformLive = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

export const CliLive = ContextRepo.Default.pipe(Layer.provideMerge(TetherHome.Default), Layer.provideMerge(PlatformLive))

/** Prints a failure as one line (the CLI has already printed usage errors itself). */
const report = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return
    // A command that already said what happened fails with an empty CliError to set the exit code.
    if (Option.isSome(failure) && failure.value instanceof CliError && failure.value.message === "") return
    const line = renderCliError(Option.isSome(failure) ? failure.value : cause)
    if (line !== "") process.stderr.write(`tether: ${line}\n`)
  })

export const runCli = (argv: ReadonlyArray<string>): void => {
  // The most common first run, answered without starting the runtime or the library's printer.
  if (isRootHelpRequest(argv.slice(2))) {
    console.log(rootHelpText())
    return
  }
  return runCommand(argv).pipe(
    Effect.tapErrorCause((cause) => (Cause.isInterruptedOnly(cause) ? Effect.void : report(cause))),
    Effect.provide(CliLive),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      teardown: (exit, onExit) =>
        onExit(Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause) ? 0 : exitCodeOf(exit.cause))
    })
  )
}
