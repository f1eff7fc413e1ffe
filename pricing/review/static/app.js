/* Pricewatch review app: the little behaviour htmx does not cover. No inline script anywhere
   (the CSP forbids it); this file only listens for events. */
(function () {
  "use strict";

  function toast(message, kind) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message; // textContent: server messages are never parsed as HTML
    el.className = "toast " + (kind || "error");
    el.hidden = false;
    clearTimeout(el._timer);
    el._timer = setTimeout(function () { el.hidden = true; }, 6000);
  }

  // htmx does not swap error responses; show their (plain text) message instead.
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var text = (xhr.responseText || "").slice(0, 300);
    toast(text || ("Request failed (" + xhr.status + ")"));
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The server did not answer. Check your connection and try again.");
  });

  // Escape cancels an inline price edit.
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") return;
    var row = evt.target.closest && evt.target.closest("tr.editing");
    if (row) {
      var cancel = row.querySelector("button.cancel");
      if (cancel) cancel.click();
    }
  });

  // Select the price when the edit field appears, so typing replaces it.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var input = evt.target.querySelector && evt.target.querySelector("tr.editing input[name=price]");
    if (input) { input.focus(); input.select(); }
  });
})();
