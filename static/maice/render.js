// Markdown with LaTeX → safe HTML: math is cut out first (Markdown would read `_` and `\`
// inside it), the rest goes through marked, KaTeX renders the math, DOMPurify cleans the
// whole result before it reaches the page. Code spans and blocks keep their `$` as text.
//
// The answer is the model's words, and a model can be talked into writing anything: raw
// HTML in it is shown as text (a fake login form or a page-wide overlay is not drawn), and
// images are dropped (an image loads by itself, and its address could carry the
// conversation away). Inline styles exist only in KaTeX's output, which needs them.
"use strict";

(() => {
  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  window.marked.use({ renderer: { html: ({ text }) => escapeHtml(text) } });
  const PURIFY = {
    ADD_TAGS: ["semantics", "annotation"],
    ADD_ATTR: ["aria-hidden", "encoding"],
    FORBID_TAGS: ["img", "picture", "source", "video", "audio", "image", "form", "input", "button", "textarea",
      "select", "style"],
  };

  // $$…$$ and \[…\] are display math; $…$ and \(…\) inline. An escaped \$ is a dollar sign.
  const MATH = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|(?<!\\)\$((?:\\.|[^$\\\n])+?)\$/g;
  const CODE = /(```[\s\S]*?(?:```|$)|`[^`\n]*`)/;
  const PLACEHOLDER = /MAICEMATH(\d+)X/g;

  function katexHtml(tex, display) {
    try {
      return window.katex.renderToString(tex, { displayMode: display, throwOnError: false, output: "htmlAndMathml", maxSize: 20 });
    } catch (error) {
      const span = document.createElement("span");
      span.className = "math-error";
      span.textContent = tex;
      return span.outerHTML;
    }
  }

  function toHtml(markdown) {
    const math = [];
    const parts = String(markdown || "").split(CODE);
    const protectedText = parts.map((part, index) => {
      if (index % 2 === 1) return part; // code: left alone
      return part.replace(MATH, (whole, display, bracket, paren, inline) => {
        const isDisplay = display !== undefined || bracket !== undefined;
        math.push(katexHtml((display ?? bracket ?? paren ?? inline).trim(), isDisplay));
        return `MAICEMATH${math.length - 1}X`;
      });
    }).join("");
    const html = window.marked.parse(protectedText, { gfm: true, breaks: true, async: false });
    const withMath = html.replace(PLACEHOLDER, (whole, index) => math[Number(index)] ?? whole);
    // KaTeX's MathML wraps the TeX source in <semantics><annotation>, which DOMPurify drops
    // by default; the annotation is text only, and keeps the math copyable and readable.
    return window.DOMPurify.sanitize(withMath, PURIFY);
  }

  // Render into an element; links open safely in a new tab.
  function renderInto(element, markdown) {
    element.innerHTML = toHtml(markdown);
    element.querySelectorAll("a[href]").forEach((link) => {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    });
  }

  window.MaiceRender = { toHtml, renderInto };
})();
