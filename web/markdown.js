// markdown.js: a small Markdown subset rendered as DOM nodes — fenced code, headings, lists, paragraphs,
// `code`, **bold**, *italic* and http(s) links. Model text only ever reaches the page as text nodes: no HTML
// from a reply is parsed, so nothing it contains can run or restyle the page.
"use strict";

(function () {
  function inline(text, parent) {
    // Tokens in order of precedence: code spans, links, bold, italics.
    const pattern = /(`[^`]+`)|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*/g;
    let last = 0;
    for (const m of text.matchAll(pattern)) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1]) {
        const code = document.createElement("code");
        code.textContent = m[1].slice(1, -1);
        parent.appendChild(code);
      } else if (m[2]) {
        const a = document.createElement("a");
        a.textContent = m[2];
        a.href = m[3];
        a.rel = "noopener noreferrer nofollow";
        a.target = "_blank";
        parent.appendChild(a);
      } else if (m[4]) {
        const b = document.createElement("strong");
        inline(m[4], b);
        parent.appendChild(b);
      } else if (m[5]) {
        const i = document.createElement("em");
        inline(m[5], i);
        parent.appendChild(i);
      }
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function render(text) {
    const root = document.createDocumentFragment();
    const lines = text.replace(/\r\n/g, "\n").split("\n");
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      const fence = line.match(/^\s*```(.*)$/);
      if (fence) {
        const body = [];
        i += 1;
        while (i < lines.length && !/^\s*```\s*$/.test(lines[i])) body.push(lines[i++]);
        i += 1; // the closing fence (or the end of an unfinished block)
        const pre = document.createElement("pre");
        const code = document.createElement("code");
        code.textContent = body.join("\n");
        pre.appendChild(code);
        root.appendChild(pre);
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      if (heading) {
        const h = document.createElement("h" + Math.min(6, heading[1].length + 2));
        inline(heading[2], h);
        root.appendChild(h);
        i += 1;
        continue;
      }
      const item = /^\s*([-*+]|\d+[.)])\s+/;
      if (item.test(line)) {
        const ordered = /^\s*\d/.test(line);
        const list = document.createElement(ordered ? "ol" : "ul");
        while (i < lines.length && item.test(lines[i])) {
          const li = document.createElement("li");
          inline(lines[i].replace(item, ""), li);
          list.appendChild(li);
          i += 1;
        }
        root.appendChild(list);
        continue;
      }
      if (line.trim() === "") { i += 1; continue; }
      const paragraph = [];
      while (i < lines.length && lines[i].trim() !== "" && !/^\s*```/.test(lines[i]) && !/^#{1,6}\s/.test(lines[i]) && !item.test(lines[i])) {
        paragraph.push(lines[i++]);
      }
      const p = document.createElement("p");
      paragraph.forEach((text, k) => {
        if (k > 0) p.appendChild(document.createElement("br"));
        inline(text, p);
      });
      root.appendChild(p);
    }
    return root;
  }

  window.ProximaMarkdown = { render };
})();
