// A desktop sandbox with the official TypeScript SDK (@hopx-ai/sdk 0.5.1): its core flow, over the
// paths this SDK sends (CONTRACT.md, "desktop paths" addendum: /desktop/vnc/info,
// /desktop/windows/list, ...). Run with `node --test` by the Rust test
// `desktop::desktop_sandboxes_with_the_official_sdks_and_a_browser` (crates/warren/tests/api/desktop.rs),
// which sets WARREN_URL and HOPX_API_KEY; node resolves `*.localhost` to loopback by itself.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Sandbox } from "@hopx-ai/sdk";

const options = { apiKey: process.env.HOPX_API_KEY, baseURL: process.env.WARREN_URL };
let sandbox;

before(async () => {
  sandbox = await Sandbox.create({ template: "desktop", ...options });
});

after(async () => {
  await sandbox?.kill().catch(() => {}); // the last test killed it
});

test("screenshot is a PNG", async () => {
  // The SDK asks axios for text: the PNG arrives decoded as UTF-8, its signature's letters intact.
  const shot = await sandbox.desktop.screenshot();
  assert.ok(shot.length > 1000, `${shot.length}`);
  assert.equal(shot.slice(1, 4), "PNG");
});

test("mouseClick and mouseMove move the pointer", async () => {
  await sandbox.desktop.mouseClick(200, 150);
  let where = (await sandbox.commands.run("xdotool getmouselocation")).stdout;
  assert.match(where, /x:200 y:150 /);
  await sandbox.desktop.mouseMove(300, 250);
  where = (await sandbox.commands.run("xdotool getmouselocation")).stdout;
  assert.match(where, /x:300 y:250 /);
});

test("keyboardType types into the focused window", async () => {
  await sandbox.commands.run(
    "xterm -T ts-term -xrm 'XTerm*allowTitleOps: false' -geometry 50x8+40+40 -fa 'DejaVu Sans Mono' -fs 18 >/dev/null 2>&1",
    { background: true, timeout: 600 },
  );
  let term;
  for (let i = 0; i < 40 && !term; i++) {
    const windows = await sandbox.desktop.listWindows();
    assert.ok(Array.isArray(windows), JSON.stringify(windows));
    term = windows.find((w) => w.title === "ts-term");
    if (!term) await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(term, "listWindows never showed ts-term");
  await sandbox.desktop.focusWindow(term.id);
  await sandbox.desktop.keyboardType("typed from typescript");
  await sandbox.desktop.keyboardPress("Return");
  // The terminal draws the line a moment after the keys: read it back until it shows (10 s at most).
  let text = "";
  for (let i = 0; i < 20 && !/typescript/.test(text); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 500));
    text = (await sandbox.desktop.ocr(term.x, term.y, term.width, term.height)).toLowerCase();
  }
  assert.match(text, /typescript/);
});

test("getVncUrl is the viewer through the router", async () => {
  const url = await sandbox.desktop.getVncUrl();
  assert.match(url, /^http:\/\/6080-/);
  assert.match(url, /warren_preview=/);
});

test("display, resolutions and debug views", async () => {
  const display = await sandbox.desktop.getDisplayInfo();
  assert.equal(display.width, 1280);
  assert.equal(display.height, 800);
  const sizes = await sandbox.desktop.getAvailableResolutions();
  assert.ok(sizes.some((s) => s.width === 1024 && s.height === 768), JSON.stringify(sizes));
  const processes = await sandbox.desktop.getDebugProcesses();
  assert.ok(processes.some((p) => `${p.name} ${p.command}`.includes("Xvfb")), JSON.stringify(processes));
});

test("kill removes it", async () => {
  await sandbox.kill();
  await assert.rejects(sandbox.getInfo());
});
