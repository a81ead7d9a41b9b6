// The live lead page. Its socket's frames swap the read-only parts by id (htmx's ws extension); this script
// says hello on each (re)connect, so a page catches up on what it missed, and shows the head's warning while
// the edit form's version is older than the last change that would refuse it (#lead-stale's data-version).
(function () {
  "use strict";

  function formVersion() {
    const input = document.querySelector("#lead-form input[name=version]");
    return input ? Number(input.value) : null;
  }

  function checkStale() {
    const warning = document.getElementById("lead-stale");
    const mine = formVersion();
    if (!warning) return;
    warning.hidden = mine === null || mine >= Number(warning.dataset.version);
  }

  function status(text, live) {
    const element = document.getElementById("socket-status");
    if (!element) return;
    element.textContent = text;
    element.classList.toggle("live", live);
  }

  document.addEventListener("htmx:wsOpen", (e) => {
    e.detail.socketWrapper.send(JSON.stringify({ type: "hello" }));
    status("live", true);
  });
  document.addEventListener("htmx:wsClose", () => status("reconnecting…", false));
  // After every swap: a frame, the form's own answer (its new version) or a move from this page.
  document.addEventListener("htmx:wsAfterMessage", checkStale);
  document.addEventListener("htmx:afterSettle", checkStale);
  document.addEventListener("htmx:oobAfterSwap", checkStale);
  document.addEventListener("DOMContentLoaded", checkStale);
})();
