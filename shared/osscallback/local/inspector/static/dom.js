// osscallback inspector: the two DOM helpers both of the page's scripts use (inspector.js, deadletters.js), loaded
// before them. el() puts text in with textContent only: every value the page shows comes from a request or an
// event that whoever uploads chose, and none of it may ever be parsed as markup.
"use strict";

window.OSSCB_DOM = Object.freeze({
  $: function (id) { return document.getElementById(id); },
  el: function (tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  },
});
