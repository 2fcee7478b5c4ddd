// dom: a small element builder, so no view writes HTML strings (every
// value from the API goes in as text, never as markup) and no inline style
// is set (CSP default-src 'self' refuses them; classes do the styling).

/** h(tag, attrs, ...children): a new element. attrs: "class", "text",
 * "on" ({event: handler}), boolean true -> the attribute present, false /
 * null / undefined -> left out, anything else -> setAttribute(name, value).
 * children: nodes, strings (as text), numbers, arrays of them; null and
 * false are skipped. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "on") {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Text that keeps its own direction inside Hebrew (phone numbers, SIDs,
 * times): <bdi>text</bdi>. */
export function bdi(text, cls) {
  return h("bdi", cls ? { class: cls } : null, text);
}

/** Runs fn (which rebuilds part of container) and gives the focus back to
 * the element with the same data-fkey, so a refresh does not throw a
 * keyboard user's focus out of the list. */
export function keepFocus(container, fn) {
  const a = document.activeElement;
  const key = a && container.contains(a) && a.dataset ? a.dataset.fkey : null;
  fn();
  if (key) {
    const again = container.querySelector('[data-fkey="' + CSS.escape(key) + '"]');
    if (again) again.focus();
  }
}

/** Replaces el's children by children (as h() takes them: null and false
 * skipped, where replaceChildren would write "null"). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
