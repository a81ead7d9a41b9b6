// Settings > Stages: drag a stage by its handle to reorder (Sortable); the up/down buttons do the same from
// the keyboard. Both swap in the list the server sends back, and keyboard focus stays on the button pressed.
(function () {
  "use strict";
  let focusId = null;

  function init(root) {
    if (!(root instanceof Element)) return;
    const list = root.id === "stage-list" ? root : root.querySelector("#stage-list");
    if (!list || list.dataset.sortable) return;
    list.dataset.sortable = "1";
    Sortable.create(list, {
      handle: ".handle",
      draggable: ".stage-row",
      animation: 120,
      onEnd(evt) {
        if (evt.oldIndex === evt.newIndex) return;
        const order = [...list.querySelectorAll(":scope > .stage-row")].map((row) => row.dataset.id).join(",");
        htmx.ajax("POST", list.dataset.orderUrl, { source: list, target: "#stage-list", swap: "outerHTML", values: { order } });
      },
    });
  }

  document.addEventListener("htmx:load", (e) => init(e.detail.elt));
  document.addEventListener("htmx:beforeRequest", (e) => {
    const active = document.activeElement;
    focusId = active && active.id && active.closest("#stage-list") ? active.id : null;
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!focusId) return;
    let button = document.getElementById(focusId);
    // At the top (or bottom) the pressed button is disabled: its neighbour keeps the focus in the row.
    if (button && button.disabled) {
      button = document.getElementById(focusId.replace(/-(up|down)$/, (m, d) => (d === "up" ? "-down" : "-up")));
    }
    if (button) button.focus();
    focusId = null;
  });
})();
