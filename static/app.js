// Site-wide behaviour: htmx response handling, notices, the dialog.
(function () {
  "use strict";

  function notice(message, level) {
    if (!message) return;
    const box = document.getElementById("notices");
    if (!box) return;
    const item = document.createElement("div");
    item.className = "notice " + (level || "info");
    item.setAttribute("role", level === "error" ? "alert" : "status");
    item.textContent = message;
    box.append(item);
    setTimeout(() => item.remove(), level === "error" ? 8000 : 4000);
  }
  window.pipeline = { notice };

  document.addEventListener("DOMContentLoaded", () => {
    // Forms answer 400/409 with themselves, errors in place: swap those. Other errors show their message.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(400|409|422)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  });

  document.addEventListener("pipeline:notice", (e) => notice(e.detail.message, e.detail.level));
  document.addEventListener("htmx:responseError", (e) => {
    const xhr = e.detail.xhr;
    notice(xhr.responseText && xhr.responseText.length < 300 ? xhr.responseText : `Request failed (${xhr.status}).`, "error");
  });
  // Forms marked data-errors="notice" keep what the user typed: a 400 shows its message instead of swapping.
  document.addEventListener("htmx:beforeSwap", (e) => {
    if (e.detail.xhr.status !== 400 || !e.detail.elt.closest("[data-errors=notice]")) return;
    e.detail.shouldSwap = false;
    e.detail.isError = true; // the dialog stays open; htmx:responseError shows the message
  });
  document.addEventListener("htmx:sendError", () => notice("Could not reach the server. Nothing was saved.", "error"));

  // The dialog opens when a form meant for it arrives, and closes on cancel or when its form succeeds.
  document.addEventListener("htmx:afterSwap", (e) => {
    const dialog = document.getElementById("dialog");
    if (dialog && e.detail.target && e.detail.target.id === "dialog-body" && !dialog.open) dialog.showModal();
  });
  document.addEventListener("htmx:afterRequest", (e) => {
    const dialog = document.getElementById("dialog");
    if (dialog && dialog.open && dialog.contains(e.detail.elt) && e.detail.successful && e.detail.requestConfig.verb === "post") dialog.close();
  });
  document.addEventListener("click", (e) => {
    if (e.target.closest("[data-close-dialog]")) e.target.closest("dialog").close();
    // The top bar's menu button on a phone shows or hides the links it folds away.
    const toggle = e.target.closest(".menu-toggle");
    const links = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    if (links) toggle.setAttribute("aria-expanded", String(links.classList.toggle("open")));
    // A link that exports what a form filters takes the form's current values when clicked.
    const link = e.target.closest("a[data-filters-from]");
    const form = link && document.getElementById(link.dataset.filtersFrom);
    if (form) link.search = new URLSearchParams(new FormData(form)).toString();
  });
})();
