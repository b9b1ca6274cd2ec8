/**
 * Scratch configuration for the real `claude` and `codex` CLIs in tests, so
 * their interactive TUIs start straight at the prompt: Claude Code with
 * onboarding done, the test's API key approved and the working directory
 * trusted; Codex with the working directory trusted. Plus the environment
 * that points each CLI at the fake model server's dummy credentials and
 * keeps it off the network.
 */
import { mkdirSync, realpathSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const CLAUDE_TEST_KEY = "sk-ant-test-native-0123456789abcdefghij"
export const OPENAI_TEST_KEY = "sk-test-native-dummy"

/** Writes `<configDir>/.claude.json`; returns the CLI environment (HOME and CLAUDE_CONFIG_DIR in `home`). */
export const seedClaudeHome = (home: string, cwds: ReadonlyArray<string>): Record<string, string> => {
  const configDir = join(home, ".claude")
  mkdirSync(configDir, { recursive: true })
  const projects: Record<string, unknown> = {}
  for (const cwd of cwds) {
    for (const path of new Set([cwd, realpathSync(cwd)])) {
      projects[path] = { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true, projectOnboardingSeenCount: 1 }
    }
  }
  writeFileSync(
    join(configDir, ".claude.json"),
    JSON.stringify({
      hasCompletedOnboarding: true,
      theme: "dark",
      numStartups: 1,
      customApiKeyResponses: { approved: [CLAUDE_TEST_KEY.slice(-20)], rejected: [] },
      projects
    })
  )
  return {
    HOME: home,
    CLAUDE_CONFIG_DIR: configDir,
    ANTHROPIC_API_KEY: CLAUDE_TEST_KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1"
  }
}

/** Writes `<home>/.codex/config.toml`; returns the CLI environment (HOME and CODEX_HOME in `home`). */
export const seedCodexHome = (home: string, cwds: ReadonlyArray<string>): Record<string, string> => {
  const codexHome = join(home, ".codex")
  mkdirSync(codexHome, { recursive: true })
  const trusted = cwds.flatMap((cwd) => [...new Set([cwd, realpathSync(cwd)])])
    .map((path) => `[projects.${JSON.stringify(path)}]\ntrust_level = "trusted"\n`)
  writeFileSync(join(codexHome, "config.toml"), trusted.join("\n"))
  return { HOME: home, CODEX_HOME: codexHome, OPENAI_API_KEY: OPENAI_TEST_KEY }
}

/** The text of a terminal's output with escape sequences removed (for failure messages only). */
export const plainText = (output: string): string =>
  output.replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, "").replace(/\x1b\[[0-9;?<>=]*[ -/]*[@-~]/g, "").replace(/\x1b[()][A-Z0-9]/g, "")
