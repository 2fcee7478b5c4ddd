// i18n: the status page's two languages, Hebrew (the default: the
// businesses answer calls in Israel, and the seeds' lead page was planned
// with Hebrew labels) and English. The choice is kept in localStorage
// ("callpipe.lang") so it outlives the tab; the token does not (api.js).
//
// t(key, vars) -> the string of the current language, "{name}" replaced
// by vars.name; an unknown key returns the key itself so a missing string
// shows up on the page instead of throwing.

const LANG_KEY = "callpipe.lang";

export const LANGS = {
  he: { dir: "rtl", locale: "he-IL", name: "עברית" },
  en: { dir: "ltr", locale: "en-GB", name: "English" },
};

const STRINGS = {
  he: {
    "app.title": "callpipe · שיחות",
    "skip": "דלג לתוכן",
    "lang.switch": "English",
    "lang.switch.label": "Switch to English",
    "signin.heading": "כניסה",
    "signin.intro": "הזינו אסימון API של העסק. הוא נשמר רק בלשונית זו עד היציאה.",
    "signin.token": "אסימון API",
    "signin.submit": "כניסה",
    "signin.refused": "האסימון נדחה.",
    "signin.expired": "האסימון כבר לא תקף. היכנסו שוב.",
    "signin.empty": "הזינו אסימון.",
    "signout": "יציאה",
    "list.heading": "שיחות",
    "lead.heading": "כל השיחות של {phone}",
    "lead.back": "לכל השיחות",
    "filter.label": "סינון",
    "filter.all": "הכל",
    "filter.failed": "נכשלו",
    "filter.in_progress": "בתהליך",
    "filter.completed": "הושלמו",
    "phone.label": "חיפוש לפי טלפון",
    "phone.placeholder": "+972501234567",
    "phone.search": "חיפוש",
    "phone.clear": "ניקוי",
    "phone.bad": "מספר בפורמט בינלאומי, למשל +972501234567.",
    "col.time": "זמן",
    "col.numbers": "מאת / אל",
    "col.to": "אל",
    "col.duration": "משך",
    "col.stages": "שלבים",
    "col.where": "שירות ועיר",
    "list.empty": "אין שיחות.",
    "list.open": "פתיחת השיחה {sid}",
    "page.prev": "הקודם",
    "page.next": "הבא",
    "page.first": "לעמוד הראשון",
    "page.label": "עמודים",
    "status.updated": "עודכן {time}",
    "status.loading": "טוען…",
    "status.live": "מתעדכן כל 5 שניות",
    "stage.recording": "הקלטה",
    "stage.transcript": "תמליל",
    "stage.summary": "סיכום",
    "st.pending": "ממתין",
    "st.recording": "מקליט",
    "st.processing": "בעיבוד",
    "st.completed": "הושלם",
    "st.failed": "נכשל",
    "retry": "ניסיון חוזר: {stage}",
    "retry.done": "{stage}: נשלח לניסיון חוזר.",
    "retry.count": "ניסיונות חוזרים: {n}",
    "last_error": "שגיאה אחרונה",
    "dir.inbound": "נכנסת",
    "dir.outbound": "יוצאת",
    "dir.outbound-api": "יוצאת",
    "dir.outbound-dial": "יוצאת",
    "cs.queued": "בתור",
    "cs.ringing": "מצלצלת",
    "cs.in-progress": "בשיחה",
    "cs.completed": "הסתיימה",
    "cs.busy": "תפוס",
    "cs.failed": "נכשלה",
    "cs.no-answer": "לא נענתה",
    "cs.canceled": "בוטלה",
    "call.heading": "שיחה {sid}",
    "call.back": "חזרה לרשימה",
    "call.from": "מאת",
    "call.to": "אל",
    "call.direction": "כיוון",
    "call.created": "התחילה",
    "call.ended": "הסתיימה",
    "call.duration": "משך",
    "call.status": "מצב השיחה",
    "call.stages": "שלבים",
    "call.recording": "הקלטה",
    "call.no_recording": "אין הקלטה עדיין.",
    "call.audio_error": "לא ניתן לנגן את ההקלטה.",
    "call.audio_retry": "טעינה מחדש",
    "call.transcript": "תמליל",
    "call.no_transcript": "אין תמליל עדיין.",
    "call.seek": "ניגון מ־{time}",
    "call.details": "פרטים",
    "call.service": "שירות",
    "call.city": "עיר",
    "call.confidence": "ודאות",
    "call.language": "שפת התמליל",
    "call.summary": "סיכום",
    "call.no_summary": "אין סיכום עדיין.",
    "call.jobs": "משימות",
    "job.kind": "סוג",
    "job.state": "מצב",
    "job.attempts": "ניסיונות",
    "job.updated": "עודכנה",
    "job.error": "שגיאה",
    "speaker.caller": "מתקשר",
    "speaker.agent": "נציג",
    "speaker.call": "שיחה",
    "none": "—",
    "err.network": "אין חיבור לשרת.",
    "err.busy": "השרת עמוס, ננסה שוב בעוד רגע.",
    "err.notfound": "השיחה לא נמצאה.",
    "err.generic": "שגיאה: {error}",
  },
  en: {
    "app.title": "callpipe · calls",
    "skip": "Skip to content",
    "lang.switch": "עברית",
    "lang.switch.label": "החלפה לעברית",
    "signin.heading": "Sign in",
    "signin.intro": "Enter the business's API token. It is kept in this tab only, until you sign out.",
    "signin.token": "API token",
    "signin.submit": "Sign in",
    "signin.refused": "The token was refused.",
    "signin.expired": "The token is no longer valid. Sign in again.",
    "signin.empty": "Enter a token.",
    "signout": "Sign out",
    "list.heading": "Calls",
    "lead.heading": "All calls of {phone}",
    "lead.back": "All calls",
    "filter.label": "Filter",
    "filter.all": "All",
    "filter.failed": "Failed",
    "filter.in_progress": "In progress",
    "filter.completed": "Completed",
    "phone.label": "Search by phone",
    "phone.placeholder": "+972501234567",
    "phone.search": "Search",
    "phone.clear": "Clear",
    "phone.bad": "A number in international form, e.g. +972501234567.",
    "col.time": "Time",
    "col.numbers": "From / to",
    "col.to": "To",
    "col.duration": "Duration",
    "col.stages": "Stages",
    "col.where": "Service, city",
    "list.empty": "No calls.",
    "list.open": "Open call {sid}",
    "page.prev": "Previous",
    "page.next": "Next",
    "page.first": "First page",
    "page.label": "Pages",
    "status.updated": "Updated {time}",
    "status.loading": "Loading…",
    "status.live": "refreshing every 5 s",
    "stage.recording": "Recording",
    "stage.transcript": "Transcript",
    "stage.summary": "Summary",
    "st.pending": "pending",
    "st.recording": "recording",
    "st.processing": "processing",
    "st.completed": "completed",
    "st.failed": "failed",
    "retry": "Retry {stage}",
    "retry.done": "{stage}: retry queued.",
    "retry.count": "Retries: {n}",
    "last_error": "Last error",
    "dir.inbound": "inbound",
    "dir.outbound": "outbound",
    "dir.outbound-api": "outbound",
    "dir.outbound-dial": "outbound",
    "cs.queued": "queued",
    "cs.ringing": "ringing",
    "cs.in-progress": "in progress",
    "cs.completed": "completed",
    "cs.busy": "busy",
    "cs.failed": "failed",
    "cs.no-answer": "no answer",
    "cs.canceled": "canceled",
    "call.heading": "Call {sid}",
    "call.back": "Back to the list",
    "call.from": "From",
    "call.to": "To",
    "call.direction": "Direction",
    "call.created": "Started",
    "call.ended": "Ended",
    "call.duration": "Duration",
    "call.status": "Call status",
    "call.stages": "Stages",
    "call.recording": "Recording",
    "call.no_recording": "No recording yet.",
    "call.audio_error": "The recording could not be played.",
    "call.audio_retry": "Load again",
    "call.transcript": "Transcript",
    "call.no_transcript": "No transcript yet.",
    "call.seek": "Play from {time}",
    "call.details": "Details",
    "call.service": "Service",
    "call.city": "City",
    "call.confidence": "Confidence",
    "call.language": "Transcript language",
    "call.summary": "Summary",
    "call.no_summary": "No summary yet.",
    "call.jobs": "Jobs",
    "job.kind": "Kind",
    "job.state": "State",
    "job.attempts": "Attempts",
    "job.updated": "Updated",
    "job.error": "Error",
    "speaker.caller": "Caller",
    "speaker.agent": "Agent",
    "speaker.call": "Call",
    "none": "—",
    "err.network": "The server cannot be reached.",
    "err.busy": "The server is busy; trying again shortly.",
    "err.notfound": "No such call.",
    "err.generic": "Error: {error}",
  },
};

function stored() {
  try {
    const l = localStorage.getItem(LANG_KEY);
    return l && LANGS[l] ? l : null;
  } catch (e) {
    return null; // storage disabled: the default applies
  }
}

let current = stored() || "he";

/** The current language code: "he" or "en". */
export function lang() {
  return current;
}

/** Sets the language (an unknown code is ignored), keeps it in
 * localStorage and sets <html lang dir>. Returns the language in force. */
export function setLang(code) {
  if (LANGS[code]) {
    current = code;
    try {
      localStorage.setItem(LANG_KEY, code);
    } catch (e) {
      // storage disabled: the choice lasts until the page is reloaded
    }
  }
  applyLang();
  return current;
}

/** <html lang="..." dir="..."> and the document title for the current language. */
export function applyLang() {
  const root = document.documentElement;
  root.lang = current;
  root.dir = LANGS[current].dir;
  document.title = t("app.title");
}

/** The string for key in the current language, {name} replaced by vars.name. */
export function t(key, vars) {
  const s = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/** A stage status as words ("completed" -> "הושלם"); unknown ones as given. */
export function statusText(status) {
  const k = "st." + status;
  return STRINGS[current][k] ? t(k) : String(status);
}

/** created_at/ended_at (ISO-8601 UTC) as local date and time, or "—". */
export function fmtDateTime(iso) {
  if (!iso) return t("none");
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return new Intl.DateTimeFormat(LANGS[current].locale, {
    dateStyle: "short",
    timeStyle: "medium",
  }).format(d);
}

/** A clock time (for "updated hh:mm:ss"). */
export function fmtClock(d) {
  return new Intl.DateTimeFormat(LANGS[current].locale, { timeStyle: "medium" }).format(d);
}

/** Seconds as m:ss (call_duration), or "—" for null. */
export function fmtDuration(s) {
  if (s === null || s === undefined || !isFinite(s)) return t("none");
  const n = Math.max(0, Math.round(s));
  const m = Math.floor(n / 60);
  return m + ":" + String(n % 60).padStart(2, "0");
}

/** A segment time in seconds as m:ss.s (transcript lines). */
export function fmtOffset(s) {
  if (!isFinite(s)) return "";
  // Tenths first, then minutes and seconds: 59.97 is 1:00.0, not 0:60.0.
  const tenths = Math.round(Math.max(0, s) * 10);
  const m = Math.floor(tenths / 600);
  const rest = tenths - m * 600;
  return m + ":" + String(Math.floor(rest / 10)).padStart(2, "0") + "." + (rest % 10);
}

/** extraction_confidence 0..1 as a percentage, or "—". */
export function fmtPercent(x) {
  if (x === null || x === undefined || !isFinite(x)) return t("none");
  return new Intl.NumberFormat(LANGS[current].locale, {
    style: "percent",
    maximumFractionDigits: 0,
  }).format(x);
}
