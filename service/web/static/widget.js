/* Sourcier help widget: one <script> tag, no build step, no framework.
 *
 *   <script src="https://HOST/widget.js" data-sourcier-api="https://HOST" defer></script>
 * (a process serving several sites: src="https://HOST/sites/ID/widget.js" and data-sourcier-site="ID")
 *
 * Inline where a <div data-sourcier> stands, else a floating button that opens a dialog. Everything
 * lives in a shadow root, so the page's CSS and the widget's cannot touch each other. Text from the
 * API (answers, passages, titles, sections) and the reader's question are only ever inserted as text
 * nodes, never as HTML. The widget sends the question and votes, nothing else (no cookie).
 *
 * Three outcomes, shown for what they are: a confident answer ("Réponse trouvée"), an unsure one
 * ("À vérifier : passage le plus proche": the closest passage, not "the" answer) and an abstention
 * ("Pas de réponse"). While the reader types, the site's own questions closest to the text
 * (/api/suggest: titles and headings) are offered in the same listbox; choosing one asks it.
 *
 * The API gives offsets in Unicode code points; JavaScript strings count UTF-16 units, so offsets are
 * converted (utf16Index) before slicing, which keeps highlights exact around emoji.
 */
(function () {
  "use strict";

  const CONFIG = __SOURCIER_CONFIG__;
  const DEBOUNCE_MS = 250;
  const LOADING_AFTER_MS = 200;
  const MIN_CHARS = 3;
  const MAX_CHARS = 500;
  const MAX_SUGGESTIONS = 5;

  if (window.__sourcierWidget) return;
  window.__sourcierWidget = true;

  const script = document.currentScript || document.querySelector("script[src*='widget.js']");
  const API = ((script && script.dataset.sourcierApi) ||
    (script && script.src ? new URL(script.src, location.href).origin : location.origin)).replace(/\/+$/, "");
  // A Sourcier serving several sites answers each under /sites/<id>/: the tag names its site.
  const SITE = (script && script.dataset.sourcierSite) || "";
  const BASE = SITE ? `${API}/sites/${encodeURIComponent(SITE)}` : API;

  const CSS = `
:host{all:initial;display:block}
.root{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1d2330;
  text-align:left;letter-spacing:normal;word-spacing:normal;text-transform:none}
*,*::before,*::after{box-sizing:border-box}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button,input{font:inherit;color:inherit}
:focus-visible{outline:3px solid #1f4fb5;outline-offset:2px}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;gap:.5rem;align-items:center;
  padding:.7rem 1rem;border:0;border-radius:999px;background:#1f4fb5;color:#fff;font-weight:600;cursor:pointer;
  box-shadow:0 6px 20px rgba(20,24,33,.25)}
.launcher kbd{background:rgba(255,255,255,.2);color:#fff;border-color:rgba(255,255,255,.5)}
dialog{width:min(44rem,calc(100vw - 2rem));max-height:calc(100vh - 4rem);margin:6vh auto auto;padding:0;border:0;
  border-radius:12px;background:#fff;color:#1d2330;box-shadow:0 20px 60px rgba(20,24,33,.35)}
dialog::backdrop{background:rgba(20,24,33,.45)}
.panel{display:flex;flex-direction:column;max-height:calc(100vh - 4rem);background:#fff;border-radius:12px}
.inline .panel{border:1px solid #c9ced9;max-height:none}
.bar{display:flex;gap:.5rem;align-items:center;padding:.75rem;border-bottom:1px solid #d9dde6}
input{flex:1;min-width:0;font-size:1.05rem;padding:.6rem .75rem;border:2px solid #6b7385;border-radius:8px;background:#fff}
.close{padding:.45rem .7rem;border:1px solid #6b7385;border-radius:8px;background:#fff;cursor:pointer;font-size:.85rem}
.status{padding:.5rem .9rem 0;color:#3f4656;font-size:.9rem;min-height:1.9rem}
.status strong{color:#1d2330}
.results{flex:1 1 auto;min-height:0;overflow-y:auto}
.inline .results{max-height:min(34rem,60vh)}
ul{list-style:none;margin:0;padding:.25rem .5rem .5rem}
li[role=option]{padding:.6rem .75rem;margin:.25rem 0;border:2px solid transparent;border-radius:8px;cursor:pointer}
li[role=option]:hover{background:#f3f5f9}
li[role=option][aria-selected=true]{background:#eef3ff;border-color:#1f4fb5}
.kicker{font-size:.75rem;font-weight:700;text-transform:uppercase;letter-spacing:.04em;color:#3f4656}
.answer .kicker{color:#14632f}
.answer.unsure{border-left:4px solid #c77700;background:#fff8eb}
.answer.unsure .kicker{color:#8a4b00}
.status .known{display:block;font-size:.85rem}
.group-label{padding:.5rem .75rem 0;font-size:.75rem;font-weight:700;text-transform:uppercase;letter-spacing:.04em;
  color:#3f4656}
.group ul{padding:0}
.suggestion{color:#1f4fb5}
.suggestion .source{font-size:.85rem}
.passage{margin:.25rem 0;white-space:pre-wrap;overflow-wrap:anywhere}
.other .passage,.lead .passage{color:#363c4a;white-space:normal;display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;
  overflow:hidden}
mark{background:#ffe27a;color:#1d2330;padding:.05em .1em;border-radius:2px;box-shadow:0 0 0 2px #ffe27a}
.source{font-size:.9rem;color:#3f4656}
.source a{color:#1f4fb5}
.example{color:#1f4fb5}
.feedback{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;padding:.5rem .9rem;border-top:1px solid #d9dde6;
  font-size:.9rem}
.feedback button{padding:.3rem .8rem;border:1px solid #6b7385;border-radius:999px;background:#fff;cursor:pointer}
.feedback button[aria-pressed=true]{background:#1f4fb5;border-color:#1f4fb5;color:#fff}
.feedback button:disabled{cursor:default}
footer{padding:.5rem .9rem;border-top:1px solid #d9dde6;font-size:.8rem;color:#3f4656}
kbd{font:inherit;font-size:.8em;padding:0 .35em;border:1px solid #8a92a3;border-radius:4px;background:#f3f5f9}
[hidden]{display:none!important}
`;

  /* A DOM element; strings among the children become text nodes, so nothing is parsed as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : String(value));
    }
    node.append(...children);
    return node;
  }

  /* The UTF-16 index in `text` of its code point number `codePoints`. */
  function utf16Index(text, codePoints) {
    let index = 0;
    for (let n = 0; n < codePoints && index < text.length; n++) {
      const unit = text.charCodeAt(index);
      const pair = unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length;
      index += pair ? 2 : 1;
    }
    return index;
  }

  function isEditable(node) {
    return !!node && (node.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(node.tagName || ""));
  }

  function articleLink(docId, start, end) {
    return `${BASE}/articles/${encodeURIComponent(docId)}?start=${start}&end=${end}#passage`;
  }

  function sourceLabel(title, section) {
    return section ? `${title} › ${section}` : title;
  }

  class Widget {
    constructor(host, floating) {
      this.floating = floating;
      this.options = [];
      this.active = -1;
      this.result = null;
      this.seq = 0;
      this.timer = null;
      this.loadingTimer = null;
      this.controller = null;
      this.root = host.attachShadow({ mode: "open" });
      this.root.append(el("style", {}, CSS));
      this.build();
    }

    build() {
      const wrap = el("div", { class: this.floating ? "root floating" : "root inline", lang: "fr" });
      this.input = el("input", {
        id: "sourcier-q", type: "text", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
        "aria-controls": "sourcier-results", autocomplete: "off", spellcheck: "false", maxlength: MAX_CHARS,
        placeholder: "Posez votre question…",
      });
      const bar = el("div", { class: "bar" }, el("label", { for: "sourcier-q", class: "sr-only" }, "Votre question"), this.input);
      this.status = el("div", { class: "status", role: "status", "aria-live": "polite" });
      this.list = el("ul", { id: "sourcier-results", role: "listbox", "aria-label": "Réponse, passages et questions proches" });
      this.thanks = el("span", { role: "status" });
      this.up = el("button", { type: "button", class: "up", "aria-pressed": "false" }, "👍 Oui");
      this.down = el("button", { type: "button", class: "down", "aria-pressed": "false" }, "👎 Non");
      this.feedback = el("div", { class: "feedback", hidden: true },
        el("span", {}, "La réponse surlignée vous a-t-elle aidé ?"), this.up, this.down, this.thanks);
      const footer = el("footer", {}, "Réponses copiées mot pour mot des articles, avec leur source. ",
        el("kbd", {}, "↑"), " ", el("kbd", {}, "↓"), " parcourir, ", el("kbd", {}, "Entrée"),
        " ouvrir la source ou poser la question proposée.");
      this.panel = el("div", { class: "panel" }, bar, this.status,
        el("div", { class: "results", tabindex: "-1" }, this.list), this.feedback, footer);

      if (this.floating) {
        this.launcher = el("button", { type: "button", class: "launcher", "aria-haspopup": "dialog" },
          "🔍 Une question ?", el("kbd", { "aria-hidden": "true" }, "/"));
        const close = el("button", { type: "button", class: "close", "aria-label": "Fermer la recherche" }, "Échap");
        bar.append(close);
        this.dialog = el("dialog", { "aria-label": "Rechercher dans les articles" }, this.panel);
        wrap.append(this.launcher, this.dialog);
        this.launcher.addEventListener("click", () => this.open());
        close.addEventListener("click", () => this.close());
        this.dialog.addEventListener("click", (e) => { if (e.target === this.dialog) this.close(); });
        this.dialog.addEventListener("cancel", (e) => { e.preventDefault(); this.close(); });
        this.dialog.addEventListener("keydown", (e) => this.trapFocus(e));
      } else {
        wrap.append(this.panel);
      }
      this.root.append(wrap);

      this.input.addEventListener("input", () => this.schedule());
      this.input.addEventListener("keydown", (e) => this.onKey(e));
      this.up.addEventListener("click", () => this.vote(1));
      this.down.addEventListener("click", () => this.vote(-1));
      this.showExamples();
    }

    open() {
      if (this.floating && !this.dialog.open) this.dialog.showModal();
      this.input.focus();
      this.input.select();
    }

    close() {
      if (!this.floating) return;
      this.dialog.close();
      this.launcher.focus();
    }

    /* Tab and Shift+Tab stay inside the open dialog. */
    trapFocus(e) {
      if (e.key !== "Tab") return;
      const items = [...this.dialog.querySelectorAll("input, button:not(:disabled), a[href]:not([tabindex='-1'])")]
        .filter((node) => node.getClientRects().length > 0);
      if (!items.length) return;
      const current = items.indexOf(this.root.activeElement);
      const next = e.shiftKey ? (current <= 0 ? items.length - 1 : current - 1) : (current + 1) % items.length;
      e.preventDefault();
      items[next].focus();
    }

    onKey(e) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (!this.options.length) return;
        const count = this.options.length;
        const step = e.key === "ArrowDown" ? 1 : -1;
        this.setActive(this.active < 0 ? (step > 0 ? 0 : count - 1) : (this.active + step + count) % count);
      } else if (e.key === "Enter") {
        e.preventDefault();
        if (this.active >= 0) this.choose(this.active);
        else if (this.result && this.result.answered && this.result.question === this.input.value.trim()) this.choose(0);
        else this.search();
      } else if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        if (this.floating) this.close();
        else if (this.active >= 0) this.setActive(-1);
        else { this.input.value = ""; this.schedule(); }
      }
    }

    setActive(index) {
      this.options.forEach((option, i) => option.node.setAttribute("aria-selected", String(i === index)));
      this.active = index;
      if (index < 0) {
        this.input.removeAttribute("aria-activedescendant");
        return;
      }
      const node = this.options[index].node;
      this.input.setAttribute("aria-activedescendant", node.id);
      node.scrollIntoView({ block: "nearest" });
    }

    choose(index) {
      const option = this.options[index];
      if (!option) return;
      if (option.ask) {
        this.input.value = option.ask;
        this.search();
      } else {
        window.location.assign(option.url);
      }
    }

    /* The listbox's options; an entry {group, items} puts its items under a labelled ARIA group. */
    setOptions(entries) {
      this.list.replaceChildren();
      this.options = [];
      const add = (item, parent) => {
        const i = this.options.length;
        item.node.id = `sourcier-option-${i}`;
        item.node.setAttribute("role", "option");
        item.node.setAttribute("aria-selected", "false");
        item.node.addEventListener("click", (e) => { if (!e.target.closest("a")) this.choose(i); });
        parent.append(item.node);
        this.options.push(item);
      };
      entries.forEach((entry, g) => {
        if (!entry.group) {
          add(entry, this.list);
          return;
        }
        const inner = el("ul", { role: "none" });
        this.list.append(el("li", { role: "group", class: "group", "aria-labelledby": `sourcier-group-${g}` },
          el("div", { id: `sourcier-group-${g}`, class: "group-label" }, entry.group), inner));
        entry.items.forEach((item) => add(item, inner));
      });
      this.active = -1;
      this.input.removeAttribute("aria-activedescendant");
      this.input.setAttribute("aria-expanded", String(this.options.length > 0));
    }

    showExamples() {
      this.result = null;
      this.list.dataset.question = "";
      this.feedback.hidden = true;
      this.status.replaceChildren(CONFIG.examples.length ? "Exemples de questions :" : "");
      this.setOptions(CONFIG.examples.map((question) => ({
        ask: question,
        node: el("li", { class: "example" }, question),
      })));
    }

    schedule() {
      clearTimeout(this.timer);
      const question = this.input.value.trim();
      if (!question) {
        this.cancel();
        this.showExamples();
        return;
      }
      if (question.length < MIN_CHARS) return;
      this.timer = setTimeout(() => this.search(true), DEBOUNCE_MS);
    }

    cancel() {
      this.seq += 1;
      clearTimeout(this.timer);
      clearTimeout(this.loadingTimer);
      if (this.controller) this.controller.abort();
      this.controller = null;
    }

    /* Ask now (with the site's close questions when the reader is typing); a newer question makes older
     * responses stale, and they are dropped. Both are shown together, so nothing moves under the reader. */
    async search(suggest = false) {
      const question = this.input.value.trim();
      if (!question) return;
      this.cancel();
      const seq = this.seq;
      const controller = new AbortController();
      this.controller = controller;
      const suggesting = suggest ? this.suggestions(question, controller.signal) : Promise.resolve([]);
      this.loadingTimer = setTimeout(() => {
        if (seq === this.seq) this.status.replaceChildren("Recherche…");
      }, LOADING_AFTER_MS);
      let body;
      let ok = false;
      try {
        const response = await fetch(`${BASE}/api/ask`, {
          method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit",
          body: JSON.stringify({ question }), signal: controller.signal,
        });
        ok = response.ok;
        body = await response.json();
      } catch (error) {
        if (seq !== this.seq || error.name === "AbortError") return;
        body = null;
      }
      const suggestions = await suggesting;
      if (seq !== this.seq) return;
      clearTimeout(this.loadingTimer);
      this.controller = null;
      if (ok) this.render(body, suggestions);
      else this.fail(body && body.error ? body.error.message : "Le service de réponses ne répond pas. Réessayez dans un instant.");
    }

    /* The site's known questions closest to `question`; [] on any failure (they are only a help). */
    async suggestions(question, signal) {
      try {
        const query = new URLSearchParams({ q: question, k: String(MAX_SUGGESTIONS) });
        const response = await fetch(`${BASE}/api/suggest?${query}`, { credentials: "omit", signal });
        const body = response.ok ? await response.json() : null;
        return body && Array.isArray(body.suggestions) ? body.suggestions.slice(0, MAX_SUGGESTIONS) : [];
      } catch (error) {
        return [];
      }
    }

    fail(message) {
      this.result = null;
      this.feedback.hidden = true;
      this.status.replaceChildren(message);
      this.setOptions([]);
    }

    render(result, suggestions) {
      this.result = result;
      this.list.dataset.question = result.question;
      const answers = [];
      const passages = [];
      let used = null;
      let status;
      if (result.answered) {
        const answer = result.answer;
        const c = answer.citation;
        used = result.passages.find((p) => p.doc_id === c.doc_id && p.start <= c.start && c.end <= p.end) || null;
        answers.push({ url: c.url, node: this.answerNode(answer, used, result.confident) });
        status = result.confident
          ? [el("strong", {}, "Réponse trouvée"), " dans les articles :"]
          : [el("strong", {}, "À vérifier : passage le plus proche"), " (pas de réponse sûre dans les articles) :"];
      } else {
        status = [el("strong", {}, "Pas de réponse"), " dans les articles pour cette question.",
          result.passages.length ? " Les passages les plus proches, à lire avec prudence :" : ""];
      }
      if (result.known) status.push(el("span", { class: "known" }, `Question proche : ${result.known.text}`));
      this.status.replaceChildren(...status);
      for (const passage of result.passages) {
        if (passage === used) continue;
        const kind = result.answered ? "other" : "lead";
        passages.push({ url: articleLink(passage.doc_id, passage.start, passage.end), node: this.passageNode(passage, kind) });
      }
      const offered = this.offered(result, suggestions || []);
      const group = offered.length ? [{ group: "Questions proches traitées par les articles", items: offered }] : [];
      // unsure or no answer: the site's own questions are the better lead, before the passages
      this.setOptions(result.confident ? [...answers, ...passages, ...group] : [...answers, ...group, ...passages]);
      this.resetFeedback(result.answered);
    }

    /* The suggestions worth offering: not the question just asked, nor the known question already named. */
    offered(result, suggestions) {
      const same = (a, b) => a.trim().toLocaleLowerCase("fr") === b.trim().toLocaleLowerCase("fr");
      const known = result.known;
      return suggestions
        .filter((s) => !same(s.text, result.question) && !(known && same(s.text, known.text) && s.doc_id === known.doc_id))
        .map((s) => ({
          ask: s.text,
          node: el("li", { class: "suggestion" }, el("div", {}, s.text),
            s.section ? el("div", { class: "source" }, s.title) : ""),
        }));
    }

    /* The answer inside its passage, highlighted at its offsets; alone if no passage holds it. An answer
     * that is not confident is labelled "À vérifier" and set apart, never shown as "the" answer. */
    answerNode(answer, passage, confident) {
      const c = answer.citation;
      let text = [el("mark", {}, answer.text)];
      if (passage) {
        const a = utf16Index(passage.text, c.start - passage.start);
        const b = utf16Index(passage.text, c.end - passage.start);
        if (passage.text.slice(a, b) === answer.text) {
          text = [passage.text.slice(0, a), el("mark", {}, answer.text), passage.text.slice(b)];
        }
      }
      return el("li", { class: confident ? "answer" : "answer unsure" },
        el("div", { class: "kicker" }, confident ? "Réponse" : "À vérifier"),
        el("p", { class: "passage" }, ...text),
        el("div", { class: "source" }, "Source : ",
          el("a", { href: c.url, tabindex: "-1" }, sourceLabel(c.title, c.section))));
    }

    passageNode(passage, kind) {
      const url = articleLink(passage.doc_id, passage.start, passage.end);
      return el("li", { class: kind }, el("div", { class: "kicker" }, kind === "lead" ? "Passage proche" : "Autre passage"),
        el("p", { class: "passage" }, passage.text),
        el("div", { class: "source" }, el("a", { href: url, tabindex: "-1" }, sourceLabel(passage.title, passage.section))));
    }

    resetFeedback(show) {
      this.feedback.hidden = !show;
      this.resetFeedbackButtons();
      this.thanks.replaceChildren();
    }

    async vote(value) {
      const result = this.result;
      if (!result || !result.answered) return;
      const c = result.answer.citation;
      this.up.disabled = this.down.disabled = true;
      (value > 0 ? this.up : this.down).setAttribute("aria-pressed", "true");
      let ok = false;
      try {
        const response = await fetch(`${BASE}/api/feedback`, {
          method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit",
          body: JSON.stringify({ question: result.question, doc_id: c.doc_id, start: c.start, end: c.end, vote: value }),
        });
        ok = response.ok;
      } catch (error) {
        ok = false;
      }
      if (result !== this.result) return;
      this.thanks.replaceChildren(ok ? "Merci pour votre avis !" : "Votre avis n’a pas pu être enregistré.");
      if (!ok) this.resetFeedbackButtons();
    }

    resetFeedbackButtons() {
      for (const button of [this.up, this.down]) {
        button.disabled = false;
        button.setAttribute("aria-pressed", "false");
      }
    }
  }

  function start() {
    const spot = document.querySelector("[data-sourcier]");
    const host = spot || document.body.appendChild(el("div", { id: "sourcier-widget" }));
    const widget = new Widget(host, !spot);
    document.addEventListener("keydown", (e) => {
      const target = e.composedPath()[0];
      const slash = e.key === "/" && !e.ctrlKey && !e.metaKey && !e.altKey && !isEditable(target);
      const ctrlK = (e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k";
      if (slash || ctrlK) {
        e.preventDefault();
        widget.open();
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
