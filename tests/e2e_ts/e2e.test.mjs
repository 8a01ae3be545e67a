// The official TypeScript SDK (@hopx-ai/sdk 0.5.1) against a real `warren serve` on the real Docker
// engine: create, runCode with kept state, files, commands, kill. Run with `node --test` by the Rust
// test `e2e::official_sdks_end_to_end_on_the_docker_engine` (crates/control-plane/tests/api/e2e.rs),
// which sets WARREN_URL and HOPX_API_KEY; node resolves `*.localhost` to loopback by itself.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Sandbox, SandboxExpiredError } from "@hopx-ai/sdk";

const options = { apiKey: process.env.HOPX_API_KEY, baseURL: process.env.WARREN_URL };
let sandbox;

before(async () => {
  sandbox = await Sandbox.create({ template: "code-interpreter", ...options });
});

after(async () => {
  await sandbox?.kill().catch(() => {}); // the last test killed it
});

test("runCode keeps Python state and runs node", async () => {
  await sandbox.runCode("x = 41");
  const result = await sandbox.runCode("print(x + 1)");
  assert.equal(result.stdout, "42\n");
  assert.equal((await sandbox.runCode("console.log(6 * 7)", { language: "javascript" })).stdout, "42\n");
});

test("files are written and read", async () => {
  await sandbox.files.write("/workspace/ts.txt", "from typescript");
  assert.equal(await sandbox.files.read("/workspace/ts.txt"), "from typescript");
});

test("commands run", async () => {
  const result = await sandbox.commands.run("cat /workspace/ts.txt; exit 3");
  assert.equal(result.stdout, "from typescript");
  assert.equal(result.exit_code, 3);
});

test("getPreviewUrl knows only hosts under vms.hopx.dev (docs/router.md)", async () => {
  await assert.rejects(sandbox.getPreviewUrl(8000), /Unable to determine preview URL/);
});

test("connect finds it, kill removes it", async () => {
  const again = await Sandbox.connect(sandbox.sandboxId, options.apiKey, options.baseURL);
  assert.equal((await again.runCode("print(x)")).stdout, "41\n");
  await sandbox.kill();
  // CONTRACT.md, TypeScript addendum: a 404 "sandbox not found" becomes SandboxExpiredError.
  await assert.rejects(sandbox.getInfo(), SandboxExpiredError);
});
