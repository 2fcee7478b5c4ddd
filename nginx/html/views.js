// views: the call list (all calls, or one phone number's: the lead view)
// and the call page. A view builds its part of <main>, fetches from the
// API (api.js) and repaints from the answer; app.js routes between views
// and owns the 5 s refresh timer, asking wantsRefresh() after each refresh.
//
// ctx, given by app.js: authFailed() (the token was refused: sign out),
// schedule() (restart the refresh timer, e.g. after a retry).

import { ApiError, downloadUrl, getCall, listCalls, retryStage } from "./api.js";
import { bdi, fill, h, keepFocus } from "./dom.js";
import {
  fmtClock,
  fmtDateTime,
  fmtDuration,
  fmtOffset,
  fmtPercent,
  statusText,
  t,
} from "./i18n.js";

export const STAGES = ["recording", "transcript", "summary"];
const PAGE_SIZE = 25;
const STATES = ["all", "failed", "in_progress"];

// ------------------------------------------------------------ call state

function stageStatus(call, stage) {
  return call[stage + "_status"];
}

/** A stage of the call failed. */
export function anyFailed(call) {
  return STAGES.some((s) => stageStatus(call, s) === "failed");
}

/** Unfinished: nothing failed and not all three completed (the page keeps
 * refreshing while a visible call is so). */
export function unfinished(call) {
  return !anyFailed(call) && !STAGES.every((s) => stageStatus(call, s) === "completed");
}

// ------------------------------------------------------------ hashes

/** The list's hash: #/ with ?state=, ?phone= and ?limit= when given. */
export function listHash(state, phone, limit) {
  const q = new URLSearchParams();
  if (state && state !== "all") q.set("state", state);
  if (phone) q.set("phone", phone);
  if (limit) q.set("limit", String(limit));
  const s = q.toString();
  return "#/" + (s ? "?" + s : "");
}

/** The lead view's hash: #/lead/<E.164, "+" kept> with ?state= and
 * ?limit= when given. */
export function leadHash(phone, state, limit) {
  const q = new URLSearchParams();
  if (state && state !== "all") q.set("state", state);
  if (limit) q.set("limit", String(limit));
  const s = q.toString();
  return "#/lead/" + encodeURIComponent(phone).replace(/^%2B/, "+") + (s ? "?" + s : "");
}

export function callHash(sid) {
  return "#/call/" + encodeURIComponent(sid);
}

/** A phone search as E.164: spaces, dashes, dots and brackets dropped,
 * a leading 00 read as +. Returns null unless + and 2..15 digits remain. */
export function normalizePhone(s) {
  let p = String(s || "").replace(/[\s\-.()]/g, "");
  if (p.startsWith("00")) p = "+" + p.slice(2);
  return /^\+[1-9][0-9]{1,14}$/.test(p) ? p : null;
}

// ------------------------------------------------------------ shared parts

function phoneLink(num, fkey, cls) {
  if (!num) return t("none");
  return h("a", { href: leadHash(num), class: "phone" + (cls ? " " + cls : ""), "data-fkey": fkey }, bdi(num));
}

/** One stage's badge: its name and its status as text (the colour is not
 * the only sign), classes st-<status>. */
export function badge(stage, status) {
  return h(
    "span",
    { class: "badge st-" + status, "data-stage": stage, "data-status": status },
    h("span", { class: "badge-label" }, t("stage." + stage)),
    h("span", { class: "badge-status" }, statusText(status)),
  );
}

/** The three badges, a retry button on each failed stage and the call's
 * last_error. onRetry(stage, button) is called on a press. */
function stagesBlock(call, onRetry) {
  const failed = STAGES.filter((s) => stageStatus(call, s) === "failed");
  return h(
    "div",
    { class: "stages" },
    h(
      "div",
      { class: "badges" },
      STAGES.map((s) => badge(s, stageStatus(call, s))),
    ),
    failed.length
      ? h(
          "div",
          { class: "retries" },
          failed.map((s) =>
            h("button", {
              type: "button",
              class: "retry",
              "data-stage": s,
              "data-fkey": call.call_sid + ":retry:" + s,
              text: t("retry", { stage: t("stage." + s) }),
              on: { click: (ev) => onRetry(s, ev.currentTarget) },
            }),
          ),
        )
      : null,
    call.last_error
      ? h(
          "div",
          { class: "last-error" },
          h("div", { class: "last-error-label" }, t("last_error") + ":"),
          h("div", { class: "last-error-text", dir: "auto" }, call.last_error),
        )
      : null,
  );
}

/** A message line (role=status): text and its kind ("info", "error"). */
function say(el, text, kind) {
  el.textContent = text || "";
  el.className = "status" + (kind ? " status-" + kind : "");
}

/** An error worth asking again on the next refresh: the network (status
 * 0), 429 or a 5xx. A 4xx (a bad parameter, an unknown call) will not
 * change by asking again: it is shown and the refresh stops. */
function transient(e) {
  if (!(e instanceof ApiError)) return false;
  return e.status === 0 || e.status === 429 || e.status >= 500;
}

function errorText(e) {
  if (!(e instanceof ApiError)) return t("err.generic", { error: String(e) });
  if (e.status === 0) return t("err.network");
  if (e.status === 429 || e.status === 503) return t("err.busy");
  if (e.status === 404) return t("err.notfound");
  return t("err.generic", { error: e.message });
}

/** The call of a retry's 202 answer as the page paints it: the retried
 * stage and every later one pending (the retry reset them; a worker may
 * already have claimed the job, which the next refresh shows). */
export function afterRetry(call, stage) {
  const c = Object.assign({}, call);
  for (const s of STAGES.slice(Math.max(0, STAGES.indexOf(stage)))) c[s + "_status"] = "pending";
  return c;
}

/** Presses retry on one stage: the button is disabled, the call updated
 * from the 202 answer at once (the badge turns gray without a reload:
 * afterRetry) and the view's refresh restarted. Returns nothing; errors
 * go to view.notice(). */
async function pressRetry(view, ctx, call, stage, button) {
  if (button) button.disabled = true;
  view.seq++; // a refresh already under way must not paint the old state over this
  try {
    const j = await retryStage(call.call_sid, stage);
    view.seq++; // nor one that started while the retry was on its way
    view.replaceCall(afterRetry(j.call, stage));
    view.notice(t("retry.done", { stage: t("stage." + stage) }), "info");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return ctx.authFailed();
    view.notice(errorText(e), "error");
    if (button) button.disabled = false;
  }
  ctx.schedule();
}

// ------------------------------------------------------------ list view

/** The call list, newest first, 25 a page. opts: {state: "all" | "failed" |
 * "in_progress", phone: E.164 or "", lead: E.164 for the lead view,
 * limit: calls a page, 1..200 (the hash's ?limit=; default PAGE_SIZE)}. */
export class ListView {
  constructor(root, ctx, opts) {
    this.root = root;
    this.ctx = ctx;
    this.state = STATES.includes(opts.state) ? opts.state : "all";
    this.lead = opts.lead || null;
    this.phone = this.lead || opts.phone || "";
    this.phoneInput = opts.phone || "";
    const lim = Number(opts.limit);
    this.limit = Number.isInteger(lim) && lim >= 1 && lim <= 200 ? lim : null;
    this.cursor = null; // this page's cursor (null: the first page)
    this.prevCursors = []; // the pages before this one
    this.calls = null;
    this.next = null;
    this.failedFetch = false; // the last fetch failed and is worth asking again
    this.halted = false; // the last fetch was refused for good (a 4xx)
    this.updated = null;
    this.seq = 0;
  }

  async start() {
    this.paint();
    await this.refresh();
  }

  dispose() {
    this.disposed = true;
  }

  wantsRefresh() {
    if (this.halted) return false;
    return this.failedFetch || (this.calls || []).some(unfinished);
  }

  /** The whole view (first paint, or the language changed). */
  paint() {
    const title = this.lead
      ? h("h1", { tabindex: "-1", class: "view-title" }, t("lead.heading", { phone: "" }), bdi(this.lead))
      : h("h1", { tabindex: "-1", class: "view-title" }, t("list.heading"));
    const nav = this.lead
      ? h("p", { class: "back" }, h("a", { href: listHash(this.state), text: t("lead.back") }))
      : null;
    const filters = h(
      "nav",
      { class: "filters", "aria-label": t("filter.label") },
      h(
        "ul",
        null,
        STATES.map((s) =>
          h(
            "li",
            null,
            h("a", {
              href: this.lead ? leadHash(this.lead, s, this.limit) : listHash(s, this.phone, this.limit),
              class: "filter" + (s === this.state ? " active" : ""),
              "aria-current": s === this.state ? "page" : null,
              "data-filter": s,
              text: t("filter." + s),
            }),
          ),
        ),
      ),
    );
    let search = null;
    if (!this.lead) {
      const input = h("input", {
        id: "phone",
        type: "search",
        name: "phone",
        inputmode: "tel",
        dir: "ltr",
        autocomplete: "off",
        placeholder: t("phone.placeholder"),
        value: this.phoneInput,
        on: { input: (ev) => (this.phoneInput = ev.currentTarget.value) },
      });
      const hint = h("span", { class: "field-error", id: "phone-error", "aria-live": "polite" });
      search = h(
        "form",
        {
          class: "search",
          role: "search",
          on: {
            submit: (ev) => {
              ev.preventDefault();
              const raw = this.phoneInput.trim();
              if (!raw) {
                location.hash = listHash(this.state, "", this.limit);
                return;
              }
              const p = normalizePhone(raw);
              if (!p) {
                hint.textContent = t("phone.bad");
                input.setAttribute("aria-invalid", "true");
                return;
              }
              location.hash = listHash(this.state, p, this.limit);
            },
          },
        },
        h("label", { for: "phone", text: t("phone.label") }),
        input,
        h("button", { type: "submit", text: t("phone.search") }),
        this.phone
          ? h("a", { href: listHash(this.state, "", this.limit), class: "clear", text: t("phone.clear") })
          : null,
        hint,
      );
    }
    this.statusEl = h("p", { class: "status", role: "status" });
    this.tableBox = h("div", { class: "table-box" });
    this.pager = h("nav", { class: "pager", "aria-label": t("page.label") });
    fill(this.root, 
      h("section", { class: "view list-view" }, nav, title, h("div", { class: "toolbar" }, filters, search), this.statusEl, this.tableBox, this.pager),
    );
    this.paintTable();
  }

  notice(text, kind) {
    this.noticeText = text;
    this.noticeKind = kind;
    this.paintStatus();
  }

  paintStatus() {
    if (this.noticeText) return say(this.statusEl, this.noticeText, this.noticeKind);
    if (!this.calls) return say(this.statusEl, t("status.loading"));
    let s = this.updated ? t("status.updated", { time: fmtClock(this.updated) }) : "";
    if (this.wantsRefresh()) s += " · " + t("status.live");
    say(this.statusEl, s);
  }

  /** The table and the pager from this.calls. */
  paintTable() {
    this.paintStatus();
    keepFocus(this.root, () => {
      if (this.calls && this.calls.length === 0) {
        fill(this.tableBox, h("p", { class: "empty", text: t("list.empty") }));
      } else if (this.calls) {
        fill(this.tableBox, this.table());
      }
      fill(this.pager, 
        h("button", {
          type: "button",
          class: "page-prev",
          "data-fkey": "page-prev",
          disabled: this.prevCursors.length === 0,
          text: t("page.prev"),
          on: { click: () => this.page(-1) },
        }),
        h("button", {
          type: "button",
          class: "page-next",
          "data-fkey": "page-next",
          disabled: !this.next,
          text: t("page.next"),
          on: { click: () => this.page(1) },
        }),
      );
    });
  }

  table() {
    const cols = ["time", "numbers", "duration", "stages", "where"];
    return h(
      "table",
      { class: "calls" },
      h("thead", null, h("tr", null, cols.map((c) => h("th", { scope: "col", class: "col-" + c, text: t("col." + c) })))),
      h(
        "tbody",
        null,
        this.calls.map((c) => this.row(c)),
      ),
    );
  }

  row(c) {
    return h(
      "tr",
      { "data-sid": c.call_sid, class: anyFailed(c) ? "row-failed" : null },
      h(
        "td",
        { class: "col-time" },
        h(
          "a",
          {
            href: callHash(c.call_sid),
            class: "open",
            "data-fkey": c.call_sid + ":open",
            "aria-label": t("list.open", { sid: c.call_sid }),
          },
          bdi(fmtDateTime(c.created_at)),
        ),
        h("div", { class: "sid", dir: "ltr", title: c.call_sid, text: c.call_sid }),
      ),
      h(
        "td",
        { class: "col-numbers" },
        h("div", null, phoneLink(c.from_number, c.call_sid + ":from", "from")),
        h("div", { class: "to" }, h("span", { class: "to-label", text: t("col.to") + " " }), phoneLink(c.to_number, c.call_sid + ":to", "to")),
      ),
      h("td", { class: "col-duration" }, bdi(fmtDuration(c.call_duration))),
      h(
        "td",
        { class: "col-stages" },
        stagesBlock(c, (stage, btn) => pressRetry(this, this.ctx, c, stage, btn)),
      ),
      h(
        "td",
        { class: "col-where" },
        h("span", { class: "service", dir: "auto", text: c.extracted_service || t("none") }),
        c.extracted_city ? h("span", { class: "city", dir: "auto", text: c.extracted_city }) : null,
      ),
    );
  }

  /** The call from a retry's 202 answer in place of the listed one. */
  replaceCall(call) {
    if (!this.calls) return;
    this.calls = this.calls.map((c) => (c.call_sid === call.call_sid ? call : c));
    this.paintTable();
  }

  page(dir) {
    if (dir > 0 && this.next) {
      this.prevCursors.push(this.cursor);
      this.cursor = this.next;
    } else if (dir < 0 && this.prevCursors.length) {
      this.cursor = this.prevCursors.pop();
    } else return;
    this.refresh().then(() => {
      this.ctx.schedule();
      const first = this.root.querySelector("a.open");
      if (first) first.focus();
    });
  }

  async refresh() {
    const seq = ++this.seq;
    try {
      const params = { limit: this.limit || PAGE_SIZE, cursor: this.cursor || undefined };
      if (this.phone) params.phone = this.phone;
      if (this.state !== "all") params.state = this.state;
      const j = await listCalls(params);
      if (this.disposed || seq !== this.seq) return;
      this.calls = j.calls || [];
      this.next = j.next_cursor || null;
      this.updated = new Date();
      this.failedFetch = false;
      this.halted = false;
      if (this.noticeKind === "error") this.noticeText = null;
      this.paintTable();
    } catch (e) {
      if (this.disposed || seq !== this.seq) return;
      if (e instanceof ApiError && e.status === 401) return this.ctx.authFailed();
      this.failedFetch = transient(e);
      this.halted = !this.failedFetch;
      this.notice(errorText(e), "error");
    }
  }
}

// ------------------------------------------------------------ call view

/** A word of the table (prefix "dir." or "cs.") in the current language;
 * a value it does not know as given. */
function word(prefix, v) {
  if (v === null || v === undefined) return t("none");
  const key = prefix + v;
  const s = t(key);
  return s === key ? String(v) : s;
}

const SPEAKERS = { caller: "speaker.caller", agent: "speaker.agent", call: "speaker.call" };

/** "Caller: ..." lines of final_transcript, for calls without segments. */
function transcriptLines(text) {
  return String(text || "")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const m = /^(Caller|Agent|Call):\s*(.*)$/.exec(l);
      return m ? { speaker: m[1].toLowerCase(), text: m[2] } : { speaker: null, text: l };
    });
}

/** One call: its stages, the recording (a signed URL minted when the page
 * opens and again when the server refuses it, 403, e.g. after it expired),
 * the transcript
 * by speaker with times (a line seeks the audio there), the extraction,
 * the summary and the jobs. */
export class CallView {
  constructor(root, ctx, sid) {
    this.root = root;
    this.ctx = ctx;
    this.sid = sid;
    this.call = null;
    this.failedFetch = false;
    this.missing = false;
    this.seq = 0;
    this.audio = null;
    this.remints = 0; // URLs minted again since the audio last loaded
    this.minting = false;
    this.checking = false; // asking the server why the audio failed
    this.audioFailed = false;
    this.wasPlaying = false; // the audio played (not paused) when it failed
  }

  async start() {
    this.paint();
    await this.refresh();
  }

  dispose() {
    this.disposed = true;
    if (this.audio) {
      this.audio.pause();
      this.audio.removeAttribute("src");
      this.audio.load();
    }
  }

  wantsRefresh() {
    return !this.missing && (this.failedFetch || (this.call ? unfinished(this.call) : false));
  }

  notice(text, kind) {
    this.noticeText = text;
    this.noticeKind = kind;
    if (this.statusEl) say(this.statusEl, text, kind);
  }

  /** The whole page; the <audio> element is kept across paints. */
  paint() {
    this.titleEl = h("h1", { tabindex: "-1", class: "view-title" }, t("call.heading", { sid: "" }), bdi(this.sid, "sid"));
    this.statusEl = h("p", { class: "status", role: "status" });
    if (this.noticeText) say(this.statusEl, this.noticeText, this.noticeKind);
    this.headBox = h("div", { class: "call-head" });
    this.stagesBox = h("div", { class: "call-stages" });
    this.playerBox = h("div", { class: "player-box" });
    this.transcriptBox = h("div", { class: "transcript-box" });
    this.detailsBox = h("div", { class: "details-box" });
    this.jobsBox = h("div", { class: "jobs-box" });
    fill(this.root, 
      h(
        "article",
        { class: "view call-view", "data-sid": this.sid },
        h("p", { class: "back" }, h("a", { href: "#/", text: t("call.back") })),
        this.titleEl,
        this.statusEl,
        this.headBox,
        h("section", { class: "card", "aria-labelledby": "h-stages" }, h("h2", { id: "h-stages", text: t("call.stages") }), this.stagesBox),
        h("section", { class: "card", "aria-labelledby": "h-recording" }, h("h2", { id: "h-recording", text: t("call.recording") }), this.playerBox),
        h("section", { class: "card", "aria-labelledby": "h-transcript" }, h("h2", { id: "h-transcript", text: t("call.transcript") }), this.transcriptBox),
        h("section", { class: "card", "aria-labelledby": "h-details" }, h("h2", { id: "h-details", text: t("call.details") }), this.detailsBox),
        h("section", { class: "card", "aria-labelledby": "h-jobs" }, h("h2", { id: "h-jobs", text: t("call.jobs") }), this.jobsBox),
      ),
    );
    this.paintCall();
  }

  /** Everything that comes from this.call. */
  paintCall() {
    const c = this.call;
    if (!c) {
      if (!this.missing && !this.noticeText) say(this.statusEl, t("status.loading"));
      this.paintPlayer();
      return;
    }
    say(this.statusEl, this.noticeText || "", this.noticeKind);
    keepFocus(this.root, () => {
      const row = (label, value) => [h("dt", { text: label }), h("dd", null, value)];
      fill(this.headBox, 
        h(
          "dl",
          { class: "facts" },
          row(t("call.from"), phoneLink(c.from_number, "head:from")),
          row(t("call.to"), phoneLink(c.to_number, "head:to")),
          row(t("call.direction"), word("dir.", c.direction)),
          row(t("call.status"), word("cs.", c.call_status)),
          row(t("call.created"), bdi(fmtDateTime(c.created_at))),
          row(t("call.ended"), bdi(fmtDateTime(c.ended_at))),
          row(t("call.duration"), bdi(fmtDuration(c.call_duration))),
        ),
      );
      fill(this.stagesBox, 
        stagesBlock(c, (stage, btn) => pressRetry(this, this.ctx, c, stage, btn)),
        c.retry_count ? h("p", { class: "retry-count" }, t("retry.count", { n: "" }), bdi(String(c.retry_count))) : null,
      );
      this.paintTranscript();
      fill(this.detailsBox, 
        h(
          "dl",
          { class: "facts" },
          row(t("call.service"), h("span", { dir: "auto", class: "service", text: c.extracted_service || t("none") })),
          row(t("call.city"), h("span", { dir: "auto", class: "city", text: c.extracted_city || t("none") })),
          row(t("call.confidence"), bdi(fmtPercent(c.extraction_confidence), "confidence")),
          row(t("call.language"), c.transcript_language ? bdi(c.transcript_language) : t("none")),
        ),
        h("h3", { text: t("call.summary") }),
        c.summary
          ? h("p", { class: "summary", dir: "auto", text: c.summary })
          : h("p", { class: "empty", text: t("call.no_summary") }),
      );
      this.paintJobs();
    });
    this.paintPlayer();
  }

  paintTranscript() {
    const c = this.call;
    const segs = Array.isArray(c.transcript_segments) ? c.transcript_segments : null;
    if (segs && segs.length) {
      fill(this.transcriptBox, 
        h(
          "ol",
          { class: "transcript" },
          segs.map((s, i) =>
            h(
              "li",
              { class: "seg-item speaker-" + s.speaker },
              h(
                "button",
                {
                  type: "button",
                  class: "seg",
                  "data-index": i,
                  "data-start": s.start,
                  "data-fkey": "seg:" + i,
                  "aria-label": t("call.seek", { time: fmtOffset(s.start) }) + ": " + s.text,
                  on: { click: () => this.seek(s.start) },
                },
                h("span", { class: "seg-time" }, bdi(fmtOffset(s.start))),
                h("span", { class: "seg-speaker", text: t(SPEAKERS[s.speaker] || "speaker.call") }),
                h("span", { class: "seg-text", dir: "auto", text: s.text }),
              ),
            ),
          ),
        ),
      );
      this.markCurrent();
      return;
    }
    const lines = transcriptLines(c.final_transcript);
    if (lines.length) {
      fill(this.transcriptBox, 
        h(
          "ol",
          { class: "transcript" },
          lines.map((l) =>
            h(
              "li",
              { class: "seg-item speaker-" + (l.speaker || "call") },
              h(
                "div",
                { class: "seg" },
                h("span", { class: "seg-time" }),
                h("span", { class: "seg-speaker", text: l.speaker ? t(SPEAKERS[l.speaker]) : "" }),
                h("span", { class: "seg-text", dir: "auto", text: l.text }),
              ),
            ),
          ),
        ),
      );
      return;
    }
    fill(this.transcriptBox, h("p", { class: "empty", text: t("call.no_transcript") }));
  }

  paintJobs() {
    const jobs = this.call.jobs || [];
    if (!jobs.length) {
      fill(this.jobsBox, h("p", { class: "empty", text: t("none") }));
      return;
    }
    const cols = ["kind", "state", "attempts", "updated", "error"];
    fill(this.jobsBox, 
      h(
        "table",
        { class: "jobs" },
        h("thead", null, h("tr", null, cols.map((k) => h("th", { scope: "col", text: t("job." + k) })))),
        h(
          "tbody",
          null,
          jobs.map((j) =>
            h(
              "tr",
              { class: "job-" + j.state },
              h("td", null, bdi(j.kind)),
              h("td", null, bdi(j.state)),
              h("td", null, bdi(j.attempts + "/" + j.max_attempts)),
              h("td", null, bdi(fmtDateTime(j.updated_at))),
              h("td", { dir: "auto", text: j.last_error || t("none") }),
            ),
          ),
        ),
      ),
    );
  }

  /** The player (made once, when the call has a recording), its error line. */
  paintPlayer() {
    const c = this.call;
    if (!c || !c.has_recording) {
      fill(this.playerBox, h("p", { class: "empty", text: c ? t("call.no_recording") : "" }));
      return;
    }
    if (!this.audio) this.makePlayer();
    const parts = [this.audio];
    if (this.audioFailed) {
      parts.push(
        h(
          "p",
          { class: "audio-error status-error" },
          t("call.audio_error") + " ",
          h("button", {
            type: "button",
            class: "audio-reload",
            text: t("call.audio_retry"),
            on: { click: () => this.mint(true) },
          }),
        ),
      );
    }
    // fill() moves <audio> out and back within one task: it keeps playing.
    fill(this.playerBox, ...parts);
  }

  makePlayer() {
    const a = h("audio", { controls: true, preload: "auto", class: "player" });
    a.addEventListener("error", () => this.audioError());
    a.addEventListener("timeupdate", () => this.markCurrent());
    a.addEventListener("play", () => (this.wasPlaying = true));
    a.addEventListener("pause", () => (this.wasPlaying = false));
    a.addEventListener("ended", () => (this.wasPlaying = false));
    a.addEventListener("loadedmetadata", () => {
      this.remints = 0;
    });
    this.audio = a;
    this.mint(false);
  }

  /** Asks for a signed URL and points the audio at it; restore: keep the
   * position, and play on when the audio that failed was playing. */
  async mint(restore) {
    if (this.minting || this.disposed) return;
    this.minting = true;
    const a = this.audio;
    const at = a.currentTime || 0;
    const playing = restore && this.wasPlaying;
    try {
      const j = await downloadUrl(this.sid, "wav");
      if (this.disposed) return;
      this.audioFailed = false;
      if (restore && at > 0) {
        a.addEventListener(
          "loadedmetadata",
          () => {
            a.currentTime = at;
            if (playing) a.play().catch(() => {});
          },
          { once: true },
        );
      } else if (playing) {
        a.addEventListener("loadedmetadata", () => a.play().catch(() => {}), { once: true });
      }
      a.src = j.url;
      this.paintPlayer();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return this.ctx.authFailed();
      this.audioFailed = true;
      this.notice(errorText(e), "error");
      this.paintPlayer();
    } finally {
      this.minting = false;
    }
  }

  /** The audio failed. The element does not tell why, so the page asks the
   * server with a one-byte GET of the same URL: a 403 means the signed URL
   * is refused (expired, or the key rotated), whatever this computer's clock
   * says, and a new one is minted, once until the audio loads again (no
   * loop). Anything else shows the error with a button to load again. */
  async audioError() {
    const a = this.audio;
    const src = a ? a.getAttribute("src") : null;
    if (this.disposed || !src || this.checking || this.minting) return;
    this.wasPlaying = !a.paused;
    let refused = false;
    if (this.remints < 1) {
      this.checking = true;
      try {
        const r = await fetch(src, { headers: { Range: "bytes=0-0" }, cache: "no-store", credentials: "omit" });
        refused = r.status === 403;
        if (r.body) r.body.cancel().catch(() => {});
      } catch (e) {
        refused = false;
      } finally {
        this.checking = false;
      }
    }
    if (this.disposed || a.getAttribute("src") !== src) return;
    if (refused) {
      this.remints++;
      this.mint(true);
      return;
    }
    this.audioFailed = true;
    this.paintPlayer();
  }

  seek(start) {
    if (!this.audio || !isFinite(start)) return;
    this.audio.currentTime = start;
    this.markCurrent(start);
  }

  /** Marks the transcript line being played (class current, aria-current). */
  markCurrent(at) {
    if (!this.audio) return;
    const now = at ?? this.audio.currentTime;
    const segs = (this.call && this.call.transcript_segments) || [];
    let idx = -1;
    segs.forEach((s, i) => {
      if (now >= s.start && now < s.end) idx = i;
    });
    for (const b of this.transcriptBox.querySelectorAll("button.seg")) {
      const on = Number(b.dataset.index) === idx;
      b.classList.toggle("current", on);
      if (on) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
  }

  replaceCall(call) {
    const jobs = this.call ? this.call.jobs : [];
    this.call = Object.assign({}, this.call || {}, call, { jobs: call.jobs || jobs });
    this.paintCall();
  }

  async refresh() {
    const seq = ++this.seq;
    try {
      const j = await getCall(this.sid);
      if (this.disposed || seq !== this.seq) return;
      this.call = j.call;
      this.failedFetch = false;
      this.missing = false;
      if (this.noticeKind === "error") this.notice("", null);
      this.paintCall();
    } catch (e) {
      if (this.disposed || seq !== this.seq) return;
      if (e instanceof ApiError && e.status === 401) return this.ctx.authFailed();
      this.failedFetch = transient(e);
      if (!this.failedFetch) this.missing = true; // a 404 or another 4xx: asking again will not help
      this.notice(errorText(e), "error");
    }
  }
}
