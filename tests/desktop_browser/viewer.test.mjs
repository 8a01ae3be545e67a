// The noVNC viewer a desktop sandbox serves on port 6080, opened in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core; no browser download) at the URL the agent returns,
// unchanged: it must render the sandbox's screen. And without its preview token the router refuses it.
// Page screenshots go to $WARREN_ARTIFACTS (default target/test-artifacts/desktop).
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";

import { Sandbox } from "@hopx-ai/sdk";
import { chromium } from "playwright-core";
import { PNG } from "pngjs";

const options = { apiKey: process.env.HOPX_API_KEY, baseURL: process.env.WARREN_URL };
const artifacts = process.env.WARREN_ARTIFACTS ?? resolve("../../target/test-artifacts/desktop");
const ORANGE = [0xff, 0x88, 0x00];
let sandbox;
let browser;
let viewerUrl;

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  sandbox = await Sandbox.create({ template: "desktop", ...options });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--no-proxy-server"],
  });
});

after(async () => {
  await browser?.close();
  await sandbox?.kill().catch(() => {});
});

/** The share of `png`'s pixels within a small distance of ORANGE. */
function orangeShare(png) {
  const { data, width, height } = PNG.sync.read(png);
  let near = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (ORANGE.every((c, k) => Math.abs(data[i + k] - c) <= 24)) near++;
  }
  return near / (width * height);
}

test("the agent's URL shows the sandbox's screen in a browser", async () => {
  const painted = await sandbox.commands.run("xsetroot -solid '#ff8800'");
  assert.equal(painted.exit_code, 0, painted.stderr);
  // The agent's own screenshot, as bytes (the SDK's screenshot() decodes them as text).
  const own = Buffer.from(
    await sandbox.desktop.client.get("/desktop/screenshot", { responseType: "arraybuffer" }),
  );
  writeFileSync(join(artifacts, "agent-screenshot.png"), own);
  const ownShare = orangeShare(own);
  assert.ok(ownShare > 0.8, `the agent's screenshot is ${ownShare} orange`);

  await sandbox.desktop.startVnc();
  viewerUrl = await sandbox.desktop.getVncUrl();
  assert.match(viewerUrl, /^http:\/\/6080-[^/]+\.localhost:\d+\/vnc\.html\?/);

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    // What the page said and what it could not load, for the failure message.
    const trouble = [];
    page.on("console", (m) => m.type() !== "log" && trouble.push(`console ${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => trouble.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => trouble.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => r.status() >= 400 && trouble.push(`HTTP ${r.status()}: ${r.url()}`));
    // Chromium drops requests in flight when the host's network changes (ERR_NETWORK_CHANGED), and
    // on a Docker host every container start and stop adds or removes an interface: load again then.
    for (let attempt = 1; ; attempt++) {
      trouble.length = 0;
      // A second goto of the same URL would be a same-document navigation (no response): leave first.
      if (attempt > 1) await page.goto("about:blank");
      const response = await page.goto(viewerUrl);
      assert.equal(response.status(), 200);
      try {
        await page.waitForSelector("canvas", { state: "attached", timeout: 15_000 });
        break;
      } catch (e) {
        const changed = trouble.some((t) => t.includes("ERR_NETWORK_CHANGED"));
        if (changed && attempt < 3) continue;
        writeFileSync(join(artifacts, "viewer-no-canvas.png"), await page.screenshot());
        throw new Error(`${e.message}\n${trouble.join("\n")}`);
      }
    }
    let shot;
    let share = 0;
    for (let i = 0; i < 40 && share < 0.5; i++) {
      await page.waitForTimeout(500);
      shot = await page.screenshot();
      share = orangeShare(shot);
    }
    writeFileSync(join(artifacts, "viewer.png"), shot);
    const status = await page.evaluate(() => document.getElementById("noVNC_status")?.textContent ?? "");
    assert.ok(share >= 0.5, `the viewer shows ${share} orange (status: ${status}); see ${artifacts}/viewer.png`);
    assert.ok(Math.abs(share - ownShare) < 0.5);
  } finally {
    await context.close();
  }
});

test("without its preview token the viewer is refused, never the desktop", async () => {
  assert.ok(viewerUrl, "the first test found the URL");
  const bare = new URL(viewerUrl);
  bare.searchParams.delete("warren_preview");
  bare.hash = "";
  const context = await browser.newContext(); // no cookies
  try {
    const page = await context.newPage();
    const response = await page.goto(bare.href);
    assert.ok([401, 403].includes(response.status()), `${response.status()}`);
    assert.equal(await page.locator("canvas").count(), 0);
    const body = await response.text();
    assert.doesNotMatch(body, /noVNC/i);
  } finally {
    await context.close();
  }
  // Nor the WebSocket the viewer would open.
  const status = await new Promise((done, fail) => {
    const ws = new URL("/websockify", bare);
    const request = http.request(ws, {
      family: 4,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      },
    });
    request.on("upgrade", (res, socket) => {
      socket.destroy();
      done(res.statusCode);
    });
    request.on("response", (res) => {
      res.resume();
      done(res.statusCode);
    });
    request.on("error", fail);
    request.end();
  });
  assert.ok([401, 403].includes(status), `websockify without a token: ${status}`);
});
