// Browser tests of the status page (issue 6, item 6), run by run.sh:
//   node test.mjs FIXTURE_JSON ARTIFACTS_DIR
// FIXTURE_JSON is fixture.py's output (the stack's URL, token and calls).
// playwright-core drives Debian's chromium (/usr/bin/chromium, or
// $CHROMIUM), headless. Each test prints "PASS name" or "FAIL name: reason";
// the last line is "N passed, N failed"; the exit status is 1 on any failure.

import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { chromium } from "playwright-core";

const [fixturePath, artifacts] = process.argv.slice(2);
if (!fixturePath || !artifacts) {
  console.error("usage: node test.mjs FIXTURE_JSON ARTIFACTS_DIR");
  process.exit(2);
}
const fx = JSON.parse(fs.readFileSync(fixturePath, "utf8"));
const BASE = fx.base_url.replace(/\/$/, "");
const CA = fs.readFileSync(fx.ca_cert);
fs.mkdirSync(artifacts, { recursive: true });

// The seeds' badge colours (style.css): background of each status.
const COLOURS = {
  pending: "rgb(227, 230, 235)",
  recording: "rgb(253, 230, 138)",
  processing: "rgb(253, 230, 138)",
  completed: "rgb(187, 240, 204)",
  failed: "rgb(253, 202, 202)",
};

// ------------------------------------------------------------ helpers

class Failure extends Error {}

function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

function eq(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Failure(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

/** An HTTPS request to the stack, trusting its CA (run/tls/cert.pem).
 * Returns {status, headers, body (Buffer)}. */
function httpsRequest(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: CA, timeout: 30000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    if (body) req.write(body);
    req.end();
  });
}

async function api(method, p, obj) {
  const headers = { Authorization: "Bearer " + fx.token, Accept: "application/json" };
  let body;
  if (obj !== undefined) {
    body = JSON.stringify(obj);
    headers["Content-Type"] = "application/json";
  }
  const r = await httpsRequest(method, BASE + p, headers, body);
  let j = null;
  try {
    j = JSON.parse(r.body.toString("utf8"));
  } catch (e) {
    j = null;
  }
  return { status: r.status, json: j, headers: r.headers };
}

/** The OpenAI simulator's control API (/_sim/faults), plain HTTP. */
async function simFault(obj) {
  const r = await fetch(fx.openai_sim_url.replace(/\/$/, "") + "/_sim/faults", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(obj),
  });
  check(r.ok, `openai sim /_sim/faults: HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
}

// Console errors, uncaught exceptions, failed requests and answers >= 400
// of every page; the last test fails if there are any.
const problems = [];

let browser;

async function newPage(lang) {
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true, // the stack's certificate is self-signed
    viewport: { width: 1280, height: 900 },
    locale: "en-GB",
    timezoneId: "Asia/Jerusalem",
  });
  if (lang) {
    await ctx.addInitScript((l) => {
      if (!sessionStorage.getItem("callpipe.test.lang-set")) {
        localStorage.setItem("callpipe.lang", l);
        sessionStorage.setItem("callpipe.test.lang-set", "1");
      }
    }, lang);
  }
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") {
      // The location: for "Failed to load resource" it is the resource's URL.
      const where = (m.location() && m.location().url) || "";
      problems.push(`console ${m.type()}: ${m.text()} at ${where} (${page.url()})`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message} (${page.url()})`));
  page.on("requestfailed", (r) => {
    const f = r.failure() ? r.failure().errorText : "";
    // A media request the page itself cuts short (a seek) is not a fault.
    if (f === "net::ERR_ABORTED" && r.resourceType() === "media") return;
    problems.push(`request failed: ${r.method()} ${r.url()}: ${f}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return page;
}

/** Drops the problems recorded since index `from` that contain one of
 * needles (a test's own doing, e.g. the 403 of a URL it let expire). */
function dropProblems(from, needles) {
  for (let i = problems.length - 1; i >= from; i--) {
    if (needles.some((n) => problems[i].includes(n))) problems.splice(i, 1);
  }
}

/** Opens the page and signs in with the fixture's token. */
async function signIn(page, hash) {
  await page.goto(BASE + "/" + (hash || ""));
  await page.waitForSelector("#token", { timeout: 10000 });
  await page.fill("#token", fx.token);
  await page.press("#token", "Enter");
  await page.waitForFunction(() => !document.querySelector("#token"), null, { timeout: 10000 });
}

function badgeSel(sid, stage) {
  return `tr[data-sid="${sid}"] .badge[data-stage="${stage}"]`;
}

async function badge(page, sel) {
  return page.$eval(sel, (el) => ({
    status: el.dataset.status,
    text: el.textContent,
    bg: getComputedStyle(el).backgroundColor,
  }));
}

/** Waits until the badge at sel shows one of statuses; returns it. */
async function waitBadge(page, sel, statuses, timeoutMs) {
  await page.waitForFunction(
    ([s, want]) => {
      const el = document.querySelector(s);
      return el && want.includes(el.dataset.status);
    },
    [sel, statuses],
    { timeout: timeoutMs, polling: 100 },
  );
  return badge(page, sel);
}

async function audioState(page) {
  return page.$eval("audio", (a) => ({
    src: a.currentSrc,
    t: a.currentTime,
    paused: a.paused,
    ready: a.readyState,
    duration: a.duration,
    error: a.error ? a.error.code : null,
  }));
}

// ------------------------------------------------------------ tests

const tests = [];
function test(name, fn) {
  tests.push({ name, fn });
}

test("sign_in_completed_call_green", async () => {
  const page = await newPage("he");
  await signIn(page);
  await page.waitForSelector(`tr[data-sid="${fx.completed_sid}"]`, { timeout: 15000 });
  for (const stage of ["recording", "transcript", "summary"]) {
    const b = await badge(page, badgeSel(fx.completed_sid, stage));
    eq(b.status, "completed", `${stage} badge status`);
    eq(b.bg, COLOURS.completed, `${stage} badge colour`);
  }
  const labels = await page.$$eval(`tr[data-sid="${fx.completed_sid}"] .badge-label`, (els) => els.map((e) => e.textContent));
  eq(labels, ["הקלטה", "תמליל", "סיכום"], "Hebrew badge labels");
  const stored = await page.evaluate(() => sessionStorage.getItem("callpipe.token"));
  eq(stored, fx.token, "token in sessionStorage");
  // Entered once: a reload keeps the session signed in.
  await page.reload();
  await page.waitForSelector(`tr[data-sid="${fx.completed_sid}"]`, { timeout: 15000 });
  check(!(await page.$("#token")), "the sign-in form came back after a reload");
  // Sign-out clears the token and shows the form again.
  await page.click("#sign-out");
  await page.waitForSelector("#token", { timeout: 5000 });
  eq(await page.evaluate(() => sessionStorage.getItem("callpipe.token")), null, "token after sign-out");
  await page.context().close();
});

test("screenshots_he_en", async () => {
  for (const lang of ["he", "en"]) {
    const page = await newPage(lang);
    await signIn(page);
    await page.waitForSelector(`tr[data-sid="${fx.completed_sid}"]`, { timeout: 15000 });
    const file = path.join(artifacts, `list-${lang}.png`);
    await page.screenshot({ path: file });
    await page.goto(BASE + "/#/call/" + fx.completed_sid);
    await page.waitForSelector("button.seg", { timeout: 15000 });
    await page.waitForFunction(() => document.querySelector("audio") && document.querySelector("audio").readyState >= 1, null, { timeout: 15000 });
    const call = path.join(artifacts, `call-${lang}.png`);
    await page.screenshot({ path: call, fullPage: true });
    for (const f of [file, call]) check(fs.statSync(f).size > 10000, `${f} is too small`);
    await page.context().close();
  }
});

test("call_page_audio_seek_206", async () => {
  const page = await newPage("en");
  const media = [];
  page.on("response", (r) => {
    if (r.url().includes("/download?")) media.push({ status: r.status(), range: r.request().headers().range || null });
  });
  await signIn(page, "#/call/" + fx.completed_sid);
  await page.waitForSelector("audio[src]", { timeout: 15000 });
  const src = await page.$eval("audio", (a) => a.getAttribute("src"));
  check(/^\/api\/calls\/CA[0-9a-f]{32}\/download\?format=wav&expires=\d+&sig=[0-9a-f]{64}$/.test(src), `audio src ${src}`);
  await page.waitForFunction(() => document.querySelector("audio").readyState >= 1, null, { timeout: 15000 });
  // It plays (the test's chromium allows autoplay: --autoplay-policy).
  await page.$eval("audio", (a) => a.play());
  await page.waitForFunction(() => document.querySelector("audio").currentTime > 0.3, null, { timeout: 10000 });
  let st = await audioState(page);
  check(!st.paused, "the audio is paused after play()");
  check(Math.abs(st.duration - fx.clip_duration_s) < 0.5, `audio duration ${st.duration}, the clip is ${fx.clip_duration_s} s`);
  // Seeking to 3 s moves currentTime there ("seeked" within 5 s, or the
  // test fails with the audio's state instead of hanging the run).
  await page.$eval("audio", (a) => a.pause());
  await page.$eval(
    "audio",
    (a) =>
      new Promise((res, rej) => {
        const timer = setTimeout(() => {
          const ranges = [];
          for (let i = 0; i < a.seekable.length; i++) ranges.push([a.seekable.start(i), a.seekable.end(i)]);
          rej(new Error(`no "seeked" 5 s after seeking to 3 s: currentTime ${a.currentTime}, seekable ${JSON.stringify(ranges)}, readyState ${a.readyState}, networkState ${a.networkState}, error ${a.error ? a.error.code : null}`));
        }, 5000);
        a.addEventListener(
          "seeked",
          () => {
            clearTimeout(timer);
            res();
          },
          { once: true },
        );
        a.currentTime = 3;
      }),
  );
  st = await audioState(page);
  check(Math.abs(st.t - 3) < 0.05, `currentTime after seeking to 3 s: ${st.t}`);
  // Clicking a transcript line seeks to its start.
  const segs = await page.$$eval("button.seg", (bs) => bs.map((b) => Number(b.dataset.start)));
  check(segs.length >= 2, `transcript lines: ${segs.length}`);
  const target = segs.length - 1;
  const start = segs[target];
  await page.click(`button.seg[data-index="${target}"]`);
  await page.waitForFunction((s) => Math.abs(document.querySelector("audio").currentTime - s) < 0.05, start, { timeout: 5000 });
  check(await page.$eval(`button.seg[data-index="${target}"]`, (b) => b.classList.contains("current")), "the clicked line is not marked current");
  // Keyboard: a line is a button, Enter on it seeks too.
  await page.focus('button.seg[data-index="0"]');
  await page.keyboard.press("Enter");
  await page.waitForFunction((s) => Math.abs(document.querySelector("audio").currentTime - s) < 0.05, segs[0], { timeout: 5000 });
  check(media.length > 0, "no media request was seen");
  const not206 = media.filter((m) => m.status !== 206);
  check(not206.length === 0, `media answers not 206: ${JSON.stringify(not206)}`);
  // The test's own Range GET of the signed URL.
  const r = await httpsRequest("GET", BASE + src, { Range: "bytes=1000-" });
  eq(r.status, 206, "Range: bytes=1000- status");
  check(/^bytes 1000-\d+\/\d+$/.test(r.headers["content-range"] || ""), `Content-Range ${r.headers["content-range"]}`);
  const total = Number((r.headers["content-range"] || "").split("/")[1]);
  eq(r.body.length, total - 1000, "bytes of the ranged answer");
  await page.context().close();
});

test("audio_url_minted_again_after_expiry", async () => {
  const before = problems.length;
  const page = await newPage("en");
  // This computer's clock runs an hour behind the server's: the page must
  // not trust it, the server's 403 is what says the URL expired.
  await page.addInitScript(() => {
    const now = Date.now.bind(Date);
    Date.now = () => now() - 3600 * 1000;
  });
  // Signed URLs of 10 s: the page asks with its own body, the test shortens it.
  let mints = 0;
  await page.route("**/api/calls/*/download-url", (route) => {
    mints++;
    return route.continue({ postData: JSON.stringify({ format: "wav", ttl_s: 10 }) });
  });
  await signIn(page, "#/call/" + fx.completed_sid);
  await page.waitForFunction(() => document.querySelector("audio") && document.querySelector("audio").readyState >= 1, null, { timeout: 15000 });
  const first = await page.$eval("audio", (a) => a.getAttribute("src"));
  const sig = new URL(first, BASE).searchParams.get("sig");
  eq(mints, 1, "signed URLs minted when the page opened");
  // The user plays and pauses: the re-minted audio must stay paused.
  await page.$eval("audio", (a) => a.play());
  await page.waitForFunction(() => document.querySelector("audio").currentTime > 0.2, null, { timeout: 10000 });
  await page.$eval("audio", (a) => a.pause());
  // Wait until the URL has expired at the server.
  const expires = Number(new URL(first, BASE).searchParams.get("expires"));
  const wait = expires * 1000 + 1000 - Date.now();
  check(wait > 6000 && wait < 15000, `the URL expires in ${wait} ms, not about 10 s`);
  await page.waitForTimeout(wait);
  const r = await httpsRequest("GET", BASE + first, {});
  eq(r.status, 403, "the expired URL's status");
  // The audio loads its (expired) URL again: 403, error, a new URL.
  await page.$eval("audio", (a) => a.load());
  await page.waitForFunction((f) => {
    const a = document.querySelector("audio");
    return a.getAttribute("src") !== f && a.readyState >= 1;
  }, first, { timeout: 10000 });
  check(!(await page.$(".audio-error")), "the player shows an error after minting again");
  eq(mints, 2, "signed URLs minted after the expiry");
  await page.waitForTimeout(1000);
  const st = await audioState(page);
  check(st.paused, "the audio the user paused plays again after the new URL");
  // The expired URL's 403 (the audio's and the page's own check) is this
  // test's doing, not the page's; nothing else is dropped.
  dropProblems(before, [sig]);
  await page.context().close();
});

test("audio_error_fresh_url_no_remint", async () => {
  const before = problems.length;
  const page = await newPage("en");
  let mints = 0;
  page.on("request", (r) => {
    if (r.url().endsWith("/download-url")) mints++;
  });
  await signIn(page, "#/call/" + fx.completed_sid);
  await page.waitForFunction(() => document.querySelector("audio") && document.querySelector("audio").readyState >= 1, null, { timeout: 15000 });
  const first = await page.$eval("audio", (a) => a.getAttribute("src"));
  const sig = new URL(first, BASE).searchParams.get("sig");
  eq(mints, 1, "signed URLs minted when the page opened");
  // The fresh (unexpired) URL now fails with a 500: that is no reason to
  // mint another, the error shows with its button.
  await page.route("**/download?**", (route) => route.fulfill({ status: 500, contentType: "application/json", body: '{"success": false, "error": "test"}' }));
  await page.$eval("audio", (a) => a.load());
  await page.waitForSelector(".audio-error button.audio-reload", { timeout: 10000 });
  await page.waitForTimeout(1500);
  eq(mints, 1, "signed URLs minted after a fresh URL failed");
  eq(await page.$eval("audio", (a) => a.getAttribute("src")), first, "the audio's URL after the failure");
  // "Load again" mints a new URL and the error goes.
  await page.unroute("**/download?**");
  await page.click(".audio-error button.audio-reload");
  await page.waitForFunction((f) => {
    const a = document.querySelector("audio");
    return a.getAttribute("src") !== f && a.readyState >= 1 && !document.querySelector(".audio-error");
  }, first, { timeout: 10000 });
  eq(mints, 2, "signed URLs minted by Load again");
  dropProblems(before, [sig]);
  await page.context().close();
});

test("failed_transcript_retry", async () => {
  const page = await newPage("en");
  await signIn(page);
  const sel = badgeSel(fx.failed_sid, "transcript");
  await page.waitForSelector(sel, { timeout: 15000 });
  let b = await badge(page, sel);
  eq(b.status, "failed", "transcript badge status");
  eq(b.bg, COLOURS.failed, "failed badge colour");
  check(/failed/.test(b.text), `failed badge text ${b.text}`);
  const shown = await page.$eval(`tr[data-sid="${fx.failed_sid}"] .last-error-text`, (e) => e.textContent);
  eq(shown, fx.failed_last_error, "last_error shown");
  const rec = await badge(page, badgeSel(fx.failed_sid, "recording"));
  eq(rec.status, "completed", "recording badge of the failed call");
  const buttons = await page.$$eval(`tr[data-sid="${fx.failed_sid}"] button.retry`, (bs) => bs.map((x) => x.dataset.stage));
  eq(buttons, ["transcript"], "retry buttons");
  // The "failed" filter lists it and not the completed call; "all" again.
  await page.click('a.filter[data-filter="failed"]');
  await page.waitForFunction(() => location.hash === "#/?state=failed", null, { timeout: 5000 });
  await page.waitForSelector(`tr[data-sid="${fx.failed_sid}"]`, { timeout: 10000 });
  const failedRows = await page.$$eval("tr[data-sid]", (rs) =>
    rs.map((r) => [r.dataset.sid, [...r.querySelectorAll(".badge")].some((b) => b.dataset.status === "failed")]),
  );
  check(failedRows.every(([, f]) => f), `a row of the failed filter has no failed stage: ${JSON.stringify(failedRows)}`);
  check(!failedRows.some(([sid]) => sid === fx.completed_sid), "the completed call is in the failed filter");
  await page.click('a.filter[data-filter="all"]');
  await page.waitForFunction(() => location.hash === "#/", null, { timeout: 5000 });
  await page.waitForSelector(`tr[data-sid="${fx.completed_sid}"]`, { timeout: 10000 });
  // The simulator holds each transcription upload stall_s (below the
  // client's timeout): the stage stays processing for a while.
  await simFault({ endpoint: "transcriptions", kind: "stall", count: fx.stall_count, stall_s: fx.stall_s });
  // Watch every status the badge shows, from the click on.
  await page.evaluate((s) => {
    window.__seen = [];
    const note = () => {
      const el = document.querySelector(s);
      const st = el ? el.dataset.status : null;
      if (st && window.__seen[window.__seen.length - 1] !== st) window.__seen.push(st);
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true });
  }, sel);
  // The 202 answer as a racing worker could make it (the job claimed
  // before the answer was built: transcript "processing"): the page must
  // paint the retried stage and the later ones pending from it all the same.
  // The server's own answer, built inside the retry's transaction, says
  // pending.
  let served = null;
  await page.route(`**/api/calls/${fx.failed_sid}/retry`, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    served = { status: resp.status(), transcript: j.call && j.call.transcript_status, summary: j.call && j.call.summary_status };
    if (j.call) j.call.transcript_status = "processing";
    await route.fulfill({ response: resp, json: j });
  });
  const t0 = Date.now();
  await page.click(`tr[data-sid="${fx.failed_sid}"] button.retry[data-stage="transcript"]`);
  b = await waitBadge(page, sel, ["pending", "recording", "processing", "completed"], 3000);
  const grayMs = Date.now() - t0;
  eq(b.status, "pending", "transcript badge right after the retry");
  eq(b.bg, COLOURS.pending, "pending badge colour");
  check(grayMs < 2000, `the badge turned gray after ${grayMs} ms`);
  eq((await badge(page, badgeSel(fx.failed_sid, "summary"))).status, "pending", "summary badge right after the retry");
  eq(served, { status: 202, transcript: "pending", summary: "pending" }, "the server's 202 answer");
  await page.unroute(`**/api/calls/${fx.failed_sid}/retry`);
  b = await waitBadge(page, sel, ["processing", "completed", "failed"], 20000);
  eq(b.status, "processing", "transcript badge while the simulator stalls");
  eq(b.bg, COLOURS.processing, "processing badge colour");
  // Hidden tab: no refresh while the call is unfinished; shown again: at once.
  const listRequests = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/api/calls") listRequests.push(Date.now());
  });
  await page.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await page.waitForTimeout(500);
  const hiddenFrom = Date.now();
  await page.waitForTimeout(6000);
  check(listRequests.filter((x) => x >= hiddenFrom).length === 0, "the list was fetched while the tab was hidden");
  const shownAt = Date.now();
  await page.evaluate(() => {
    delete document.hidden;
    delete document.visibilityState;
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await page.waitForTimeout(1500);
  check(listRequests.some((x) => x >= shownAt), "no fetch at once when the tab showed again");
  b = await waitBadge(page, sel, ["completed", "failed"], 90000);
  eq(b.status, "completed", "transcript badge after the stall");
  eq(b.bg, COLOURS.completed, "completed badge colour");
  // From the click on; a leading "failed" is the one the click's mutation
  // (the button disabled) recorded before the 202 came.
  const seen = await page.evaluate(() => window.__seen);
  if (seen[0] === "failed") seen.shift();
  eq(seen, ["pending", "processing", "completed"], "statuses the badge went through");
  check(!(await page.$(`tr[data-sid="${fx.failed_sid}"] .last-error`)), "last_error still shown after the retry succeeded");
  const j = await api("GET", "/api/calls/" + fx.failed_sid);
  eq(j.json && j.json.call.retry_count, 1, "retry_count after the retry");
  await page.context().close();
});

test("lead_view_one_business", async () => {
  const page = await newPage("en");
  await signIn(page);
  const link = `tr[data-sid="${fx.completed_sid}"] a.phone.from`;
  await page.waitForSelector(link, { timeout: 15000 });
  eq(await page.$eval(link, (a) => a.textContent), fx.lead, "the caller's number in the list");
  await page.click(link);
  await page.waitForFunction((p) => decodeURIComponent(location.hash) === "#/lead/" + p, fx.lead, { timeout: 5000 });
  await page.waitForSelector(`.list-view h1 bdi`, { timeout: 5000 });
  eq(await page.$eval(".list-view h1 bdi", (e) => e.textContent), fx.lead, "the lead view's heading number");
  await page.waitForSelector(`tr[data-sid="${fx.completed_sid}"]`, { timeout: 15000 });
  const sids = (await page.$$eval("tr[data-sid]", (rs) => rs.map((r) => r.dataset.sid))).sort();
  eq(sids, [fx.completed_sid, fx.failed_sid].sort(), "calls in the lead view");
  check(!sids.includes(fx.other_sid), "the other business's call is listed");
  const apiList = await api("GET", "/api/calls?phone=" + encodeURIComponent(fx.lead));
  eq(apiList.status, 200, "GET /api/calls?phone= status");
  eq(apiList.json.calls.map((c) => c.call_sid).sort(), sids, "the API's calls of the number");
  // Paging one call a page (?limit=1): newest first, Next, then Previous.
  await page.goto(BASE + "/" + "#/lead/" + fx.lead + "?limit=1");
  const onlyRow = async () => {
    await page.waitForFunction(() => document.querySelectorAll("tr[data-sid]").length === 1, null, { timeout: 10000 });
    return page.$eval("tr[data-sid]", (r) => r.dataset.sid);
  };
  eq(await onlyRow(), fx.failed_sid, "page 1 of the lead view (the newest call)");
  check(await page.$eval("button.page-prev", (b) => b.disabled), "Previous is enabled on page 1");
  await page.click("button.page-next");
  await page.waitForFunction((s) => !document.querySelector(`tr[data-sid="${s}"]`), fx.failed_sid, { timeout: 10000 });
  eq(await onlyRow(), fx.completed_sid, "page 2 of the lead view");
  check(await page.$eval("button.page-next", (b) => b.disabled), "Next is enabled on the last page");
  await page.click("button.page-prev");
  await page.waitForFunction((s) => !!document.querySelector(`tr[data-sid="${s}"]`), fx.failed_sid, { timeout: 10000 });
  // The phone search of the list finds the same calls.
  await page.goto(BASE + "/#/");
  await page.waitForSelector("#phone", { timeout: 10000 });
  await page.fill("#phone", fx.lead.replace(/^\+972/, "+972 "));
  await page.press("#phone", "Enter");
  await page.waitForFunction((p) => new URLSearchParams(location.hash.split("?")[1] || "").get("phone") === p, fx.lead, { timeout: 5000 });
  await page.waitForFunction((n) => document.querySelectorAll("tr[data-sid]").length === n && !document.querySelector(".status").textContent.includes("…"), sids.length, { timeout: 10000 });
  eq((await page.$$eval("tr[data-sid]", (rs) => rs.map((r) => r.dataset.sid))).sort(), sids, "calls found by the phone search");
  // Every listed call has the number as one of its two.
  const nums = await page.$$eval("tr[data-sid]", (rs) => rs.map((r) => [...r.querySelectorAll("a.phone")].map((a) => a.textContent)));
  check(nums.every((n) => n.includes(fx.lead)), `numbers of the lead view's rows: ${JSON.stringify(nums)}`);
  await page.context().close();
});

test("bad_request_not_polled", async () => {
  // A 400 will not change by asking again: the page shows the error and
  // stops refreshing (only the network, 429 and 5xx are asked again).
  const before = problems.length;
  const bad = [
    { hash: "#/lead/0501234567", path: "/api/calls", needle: "0501234567" },
    { hash: "#/call/XYZ12", path: "/api/calls/XYZ12", needle: "XYZ12" },
  ];
  await Promise.all(
    bad.map(async (c) => {
      const page = await newPage("en");
      await signIn(page);
      await page.waitForSelector("table.calls", { timeout: 15000 });
      const asked = [];
      const answers = [];
      page.on("request", (r) => {
        if (new URL(r.url()).pathname === c.path && r.url().includes(c.needle)) asked.push(Date.now());
      });
      page.on("response", (r) => {
        if (new URL(r.url()).pathname === c.path && r.url().includes(c.needle)) answers.push(r.status());
      });
      await page.goto(BASE + "/" + c.hash);
      await page.waitForSelector(".status.status-error", { timeout: 10000 });
      await page.waitForTimeout(6500);
      eq(answers[0], 400, `${c.hash}: the API's status`);
      eq(asked.length, 1, `${c.hash}: requests in 6.5 s after a 400`);
      await page.context().close();
    }),
  );
  dropProblems(before, bad.map((c) => c.needle));
});

test("fmt_offset_rounds_first", async () => {
  const page = await newPage("en");
  await page.goto(BASE + "/");
  await page.waitForSelector("#token", { timeout: 10000 });
  const got = await page.evaluate(async () => {
    const m = await import("/i18n.js");
    return [0, 3.04, 59.94, 59.97, 61.25, 119.96, 600].map((x) => m.fmtOffset(x));
  });
  eq(got, ["0:00.0", "0:03.0", "0:59.9", "1:00.0", "1:01.3", "2:00.0", "10:00.0"], "fmtOffset of 0, 3.04, 59.94, 59.97, 61.25, 119.96, 600");
  await page.context().close();
});

test("direction_hebrew_rtl_english_ltr", async () => {
  const page = await newPage("he");
  await signIn(page);
  await page.waitForSelector("table.calls", { timeout: 15000 });
  const dirs = () =>
    page.evaluate(() => ({
      attr: document.documentElement.getAttribute("dir"),
      lang: document.documentElement.lang,
      body: getComputedStyle(document.body).direction,
      cell: getComputedStyle(document.querySelector("table.calls td")).direction,
      bdi: getComputedStyle(document.querySelector("a.phone bdi")).unicodeBidi,
      label: document.querySelector(".badge-label").textContent,
    }));
  let d = await dirs();
  eq([d.attr, d.lang, d.body, d.cell], ["rtl", "he", "rtl", "rtl"], "Hebrew dir, lang, computed direction");
  eq(d.bdi, "isolate", "phone numbers isolated (<bdi>)");
  eq(d.label, "הקלטה", "first badge label in Hebrew");
  // The toggle is a button: keyboard reaches it.
  await page.focus("#lang-toggle");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.documentElement.dir === "ltr", null, { timeout: 5000 });
  d = await dirs();
  eq([d.attr, d.lang, d.body, d.cell], ["ltr", "en", "ltr", "ltr"], "English dir, lang, computed direction");
  eq(d.label, "Recording", "first badge label in English");
  // The choice outlives a reload.
  await page.reload();
  await page.waitForSelector("table.calls", { timeout: 15000 });
  eq((await dirs()).body, "ltr", "direction after a reload");
  await page.context().close();
});

test("no_console_errors", async () => {
  check(problems.length === 0, problems.slice(0, 10).join("; "));
});

// ------------------------------------------------------------ runner

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage"],
  });
  let passed = 0;
  let failed = 0;
  const only = process.env.BROWSER_TESTS ? process.env.BROWSER_TESTS.split(",") : null;
  for (const t of tests) {
    if (only && !only.includes(t.name) && t.name !== "no_console_errors") continue;
    const t0 = Date.now();
    try {
      await t.fn();
      passed++;
      console.log(`PASS ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      const why = (e && e.message ? e.message : String(e)).split("\n")[0];
      console.log(`FAIL ${t.name}: ${why}`);
      for (const c of browser.contexts()) {
        for (const p of c.pages()) {
          await p.screenshot({ path: path.join(artifacts, `fail-${t.name}.png`), fullPage: true }).catch(() => {});
        }
        await c.close().catch(() => {});
      }
    }
  }
  await browser.close();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL runner: ${e && e.message ? e.message.split("\n")[0] : e}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
});
