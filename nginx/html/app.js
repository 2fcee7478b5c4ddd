// app: the status page's entry module. It keeps the header (language
// toggle, sign-out), routes the hash to a view and owns the refresh timer:
//
//   #/                      the call list (?state=failed|in_progress, ?phone=E.164,
//                           ?limit=1..200 calls a page, default 25)
//   #/call/<CallSid>        one call
//   #/lead/<E.164>          every call of one phone number (?state= too)
//
// Without a token in sessionStorage every route shows the sign-in form.
// While the view shows an unfinished call (nothing failed and not all
// three stages completed) it is fetched again every REFRESH_MS; the timer
// stops while the tab is hidden and the view is fetched at once when it
// shows again.

import { ApiError, clearToken, listCalls, setToken, token } from "./api.js";
import { fill, h } from "./dom.js";
import { applyLang, lang, LANGS, setLang, t } from "./i18n.js";
import { CallView, ListView } from "./views.js";

const REFRESH_MS = 5000;

const headerEl = document.getElementById("top");
const main = document.getElementById("main");

let view = null;
let timer = null;
let signInMessage = "";
let firstRoute = true;

// ------------------------------------------------------------ refresh

function stopTimer() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
}

/** (Re)starts the refresh timer when the view wants it and the tab shows. */
function schedule() {
  stopTimer();
  if (!view || document.hidden || !view.wantsRefresh()) return;
  timer = setTimeout(tick, REFRESH_MS);
}

async function tick() {
  timer = null;
  const v = view;
  if (!v || document.hidden) return;
  await v.refresh();
  if (v === view) schedule();
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) stopTimer();
  else if (view && view.wantsRefresh()) tick();
});

const ctx = {
  schedule,
  authFailed() {
    clearToken();
    signInMessage = t("signin.expired");
    route();
  },
};

// ------------------------------------------------------------ header

function paintHeader() {
  const other = lang() === "he" ? "en" : "he";
  fill(headerEl, 
    // The skip link focuses <main> itself: following "#main" would change the route.
    h("a", {
      href: "#main",
      class: "skip",
      text: t("skip"),
      on: {
        click: (ev) => {
          ev.preventDefault();
          main.focus();
        },
      },
    }),
    h("a", { href: "#/", class: "brand" }, h("img", { src: "favicon.svg", alt: "", width: "24", height: "24" }), "callpipe"),
    h(
      "div",
      { class: "top-actions" },
      h("button", {
        type: "button",
        id: "lang-toggle",
        class: "lang-toggle",
        lang: other,
        dir: LANGS[other].dir,
        "aria-label": t("lang.switch.label"),
        text: t("lang.switch"),
        on: { click: () => switchLang(other) },
      }),
      token()
        ? h("button", { type: "button", id: "sign-out", class: "sign-out", text: t("signout"), on: { click: signOut } })
        : null,
    ),
  );
}

function switchLang(code) {
  setLang(code);
  paintHeader();
  if (view) view.paint();
  else route();
  const b = document.getElementById("lang-toggle");
  if (b) b.focus();
}

function signOut() {
  clearToken();
  signInMessage = "";
  if (location.hash && location.hash !== "#/") location.hash = "#/";
  else route();
}

// ------------------------------------------------------------ sign-in

function paintSignIn() {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    dir: "ltr",
    required: true,
  });
  const msg = h("p", { class: "status" + (signInMessage ? " status-error" : ""), role: "status", text: signInMessage });
  const button = h("button", { type: "submit", text: t("signin.submit") });
  const form = h(
    "form",
    {
      class: "signin card",
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          const tok = input.value.trim();
          if (!tok) {
            msg.textContent = t("signin.empty");
            msg.className = "status status-error";
            return;
          }
          button.disabled = true;
          try {
            await listCalls({ limit: 1 }, tok);
            setToken(tok);
            signInMessage = "";
            route();
          } catch (e) {
            msg.className = "status status-error";
            msg.textContent =
              e instanceof ApiError && (e.status === 401 || e.status === 403)
                ? t("signin.refused")
                : e instanceof ApiError && e.status === 0
                  ? t("err.network")
                  : t("err.generic", { error: e.message });
            button.disabled = false;
            input.focus();
          }
        },
      },
    },
    h("h1", { class: "view-title", tabindex: "-1", text: t("signin.heading") }),
    h("p", { text: t("signin.intro") }),
    h("label", { for: "token", text: t("signin.token") }),
    input,
    button,
    msg,
  );
  fill(main, h("section", { class: "view signin-view" }, form));
  input.focus();
}

// ------------------------------------------------------------ routing

/** location.hash as {path, query}: "#/lead/+972...?state=failed" ->
 * {path: "/lead/+972...", query: URLSearchParams("state=failed")}. */
function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const i = raw.indexOf("?");
  const path = i < 0 ? raw : raw.slice(0, i);
  const query = new URLSearchParams(i < 0 ? "" : raw.slice(i + 1));
  return { path, query };
}

function route() {
  stopTimer();
  if (view) view.dispose();
  view = null;
  paintHeader();
  if (!token()) {
    paintSignIn();
    firstRoute = false;
    return;
  }
  const { path, query } = parseHash();
  let m;
  let v;
  if ((m = /^\/call\/([A-Za-z0-9]{2,64})$/.exec(path))) {
    v = new CallView(main, ctx, m[1]);
  } else if ((m = /^\/lead\/([^/]+)$/.exec(path))) {
    let phone;
    try {
      phone = decodeURIComponent(m[1]);
    } catch (e) {
      phone = m[1];
    }
    v = new ListView(main, ctx, { lead: phone, state: query.get("state"), limit: query.get("limit") });
  } else {
    v = new ListView(main, ctx, {
      state: query.get("state"),
      phone: query.get("phone") || "",
      limit: query.get("limit"),
    });
  }
  view = v;
  const focusTitle = !firstRoute;
  firstRoute = false;
  const started = v.start();
  if (focusTitle) {
    const title = main.querySelector(".view-title");
    if (title) title.focus();
  }
  started.then(() => {
    if (v === view) schedule();
  });
}

window.addEventListener("hashchange", route);
applyLang();
route();
