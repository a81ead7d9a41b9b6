// The live board: Sortable drags and keyboard moves POST to /leads/<id>/move/; socket frames (numbered HTML
// fragments) are placed by position and swapped by htmx (hx-swap-oob). A card is only replaced by a newer
// version of itself, so replays after a reconnect and out-of-order frames are harmless.
(function () {
  "use strict";
  const socketElt = document.getElementById("board-socket");
  if (!socketElt) return;
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  let lastSeq = 0;
  let socket = null;
  let busy = null; // the card being dragged or carried by keyboard: frames wait until it is dropped
  const waiting = [];

  const leadId = (card) => card.id.slice("lead-".length);
  const version = (card) => Number(card.dataset.version || 0);
  const keyOf = (card) => [Number(card.dataset.position), Number(leadId(card))];
  const isAfter = (a, b) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
  const send = (message) => socket && socket.send(JSON.stringify(message));
  const notice = (message, level) => window.pipeline.notice(message, level);

  function readSeq() {
    const board = document.getElementById("board");
    if (board) lastSeq = Math.max(lastSeq, Number(board.dataset.seq || 0));
  }

  // The page's filters as its query string: the server decides from them which cards a frame hides.
  function filters() {
    const form = document.getElementById("filters");
    return form ? new URLSearchParams(new FormData(form)).toString() : location.search.slice(1);
  }

  // Put `existing` (or a placeholder) where the card belongs; false when its place is not loaded here.
  function place(card, existing) {
    const list = document.getElementById("col-" + card.dataset.stage + "-cards");
    if (!list) return false;
    const key = keyOf(card);
    let next = null;
    for (const other of list.querySelectorAll(":scope > .card")) {
      if (other.id !== card.id && isAfter(keyOf(other), key)) { next = other; break; }
    }
    const more = list.querySelector(":scope > .more");
    if (!next && more) return false; // beyond the loaded cards: "load more" will bring it
    const target = existing || Object.assign(document.createElement("article"), { id: card.id });
    if (target.parentNode !== list || target.nextElementSibling !== (next || more)) list.insertBefore(target, next || more);
    return true;
  }

  // Decide whether an incoming card replaces what is shown; `own` accepts an equal version (the mover's answer),
  // `hidden` is the server's word that the board's filters hide it.
  function prepareCard(card, own, hidden) {
    const existing = document.getElementById(card.id);
    if (existing && (own ? version(card) < version(existing) : version(card) <= version(existing))) {
      // The very card shown, now hidden here (say, snoozed from this board, its own answer swapped in first).
      if (hidden && version(card) === version(existing)) existing.remove();
      return false;
    }
    if (hidden || !place(card, existing)) {
      if (existing) existing.remove();
      return false;
    }
    card.setAttribute("hx-swap-oob", "true");
    return true;
  }

  function applyFrame(text) {
    const template = document.createElement("template");
    template.innerHTML = text;
    const fragment = template.content;
    const seqElt = fragment.querySelector("#board-seq");
    const seq = seqElt ? Number(seqElt.dataset.seq) : null;
    // The server states, for this user and these filters, which of the frame's cards they may move and hide.
    const ids = (name) => new Set(seqElt && seqElt.dataset[name] ? seqElt.dataset[name].split(" ") : []);
    const movable = ids("canMove"), hidden = ids("hidden");
    if (seqElt) { seqElt.remove(); lastSeq = Math.max(lastSeq, seq); }
    if (fragment.querySelector("#board-refresh")) return reloadBoard();
    for (const elt of [...fragment.children]) {
      if (elt.classList.contains("card")) {
        elt.dataset.canMove = movable.has(leadId(elt)) ? "1" : "0";
        if (!prepareCard(elt, false, hidden.has(leadId(elt)))) elt.remove();
      } else if (elt.classList.contains("column-header") && seq !== null) {
        const current = document.getElementById(elt.id);
        if (current && Number(current.dataset.seq || 0) > seq) elt.remove();
        else elt.dataset.seq = seq;
      }
    }
    htmx.swap(document.body, fragment, { swapStyle: "none" });
  }

  function applyOwnCard(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const card = template.content.firstElementChild;
    if (card && prepareCard(card, true, false)) htmx.swap(document.body, template.content, { swapStyle: "none" });
  }

  function reloadBoard() {
    htmx.ajax("GET", location.pathname + location.search, { target: "#board", select: "#board", swap: "outerHTML" });
  }

  function release() {
    busy = null;
    while (waiting.length && !busy) applyFrame(waiting.shift());
  }

  function snapBack(card, origin) {
    const next = origin.next && origin.next.parentNode === origin.parent ? origin.next : null;
    origin.parent.insertBefore(card, next);
  }

  async function move(card, list, origin) {
    const cards = [...list.querySelectorAll(":scope > .card")];
    const index = cards.indexOf(card);
    const body = new URLSearchParams({ stage: list.dataset.stage, index, version: card.dataset.version });
    if (cards[index - 1]) body.set("prev", leadId(cards[index - 1]));
    if (cards[index + 1]) body.set("next", leadId(cards[index + 1]));
    card.classList.add("saving");
    try {
      const response = await fetch(`/leads/${leadId(card)}/move/`, {
        method: "POST", body, headers: { "X-CSRFToken": csrf, "X-Requested-With": "fetch" },
      });
      const text = await response.text();
      if (response.ok || response.status === 409) {
        applyOwnCard(text);
        // The same client events htmx would fire; of those, the board shows the notice.
        const trigger = JSON.parse(response.headers.get("HX-Trigger") || "{}")["pipeline:notice"];
        if (trigger) notice(trigger.message, trigger.level);
      } else {
        snapBack(card, origin);
        notice(text.length < 300 ? text : `The move failed (${response.status}).`, "error");
      }
    } catch (error) {
      snapBack(card, origin);
      notice("Could not reach the server; the card is back where it was.", "error");
    } finally {
      card.classList.remove("saving");
      release();
    }
  }

  function finishMove(card, origin) {
    send({ type: "drop", lead: leadId(card) });
    const moved = card.parentNode !== origin.parent || card.nextElementSibling !== origin.next;
    if (moved) move(card, card.parentNode, origin);
    else release();
  }

  function initSortable(list) {
    if (list.dataset.sortable) return;
    list.dataset.sortable = "1";
    let origin = null;
    Sortable.create(list, {
      group: "board",
      draggable: ".card",
      filter: ".locked",
      preventOnFilter: false,
      animation: 120,
      delay: 150, // touch: a short press starts a drag, a swipe still scrolls
      delayOnTouchOnly: true,
      onStart(evt) {
        busy = evt.item;
        origin = { parent: evt.from, next: evt.item.nextElementSibling };
        send({ type: "drag", lead: leadId(evt.item) });
      },
      onEnd(evt) { finishMove(evt.item, origin); },
    });
  }

  function decorate(root) {
    if (!(root instanceof Element)) return;
    const cards = root.matches(".card") ? [root] : root.querySelectorAll(".card");
    for (const card of cards) {
      const locked = card.dataset.canMove !== "1";
      card.classList.toggle("locked", locked);
      card.setAttribute("aria-roledescription", locked ? "card, not yours to move" : "movable card");
    }
    for (const list of root.matches(".cards") ? [root] : root.querySelectorAll(".cards")) initSortable(list);
    if (root.id === "board" || root.querySelector("#board")) {
      readSeq();
      send({ type: "filters", filters: filters() });
    }
  }
  htmx.onLoad(decorate);

  // Keyboard: Space or Enter picks a card up, arrows carry it (left/right: columns, up/down: place),
  // Space or Enter drops it (the same move request as a drag), Escape puts it back.
  let carried = null;
  document.addEventListener("keydown", (e) => {
    const card = e.target.closest && e.target.closest(".card");
    if (!card || e.target !== card) return;
    if (!carried) {
      if ((e.key === " " || e.key === "Enter") && !card.classList.contains("locked")) {
        e.preventDefault();
        busy = card;
        carried = { card, origin: { parent: card.parentNode, next: card.nextElementSibling } };
        card.classList.add("carried");
        card.setAttribute("aria-grabbed", "true");
        send({ type: "drag", lead: leadId(card) });
        notice(`Moving ${card.querySelector(".card-name").textContent}: arrows to choose, Enter to drop, Escape to cancel.`);
      }
      return;
    }
    if (carried.card !== card) return;
    const list = card.parentNode;
    const lists = [...document.querySelectorAll(".cards")];
    const at = lists.indexOf(list);
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      const target = lists[at + (e.key === "ArrowLeft" ? -1 : 1)];
      if (target) target.insertBefore(card, target.querySelector(":scope > .card"));
    } else if (e.key === "ArrowUp" && card.previousElementSibling) {
      list.insertBefore(card, card.previousElementSibling);
    } else if (e.key === "ArrowDown" && card.nextElementSibling && card.nextElementSibling.matches(".card")) {
      list.insertBefore(card.nextElementSibling, card);
    } else if (e.key === "Escape") {
      snapBack(card, carried.origin);
    } else if (e.key !== " " && e.key !== "Enter") {
      return;
    }
    e.preventDefault();
    card.focus();
    if (e.key === " " || e.key === "Enter" || e.key === "Escape") {
      const { origin } = carried;
      carried = null;
      card.classList.remove("carried");
      card.removeAttribute("aria-grabbed");
      finishMove(card, origin);
    }
  });

  // Focus leaving a carried card (Tab, a click elsewhere) cancels the carry, as Escape does: frames held
  // back while it was carried would otherwise wait for ever.
  // (Checked a moment later: carrying the card to another column moves it in the DOM and refocuses it.)
  document.addEventListener("focusout", (e) => {
    if (!carried || e.target !== carried.card) return;
    setTimeout(() => {
      if (!carried || document.activeElement === carried.card) return;
      const { card, origin } = carried;
      carried = null;
      card.classList.remove("carried");
      card.removeAttribute("aria-grabbed");
      snapBack(card, origin);
      finishMove(card, origin);
    }, 0);
  });

  const status = (text, live) => {
    const elt = document.getElementById("socket-status");
    if (elt) { elt.textContent = text; elt.classList.toggle("live", live); }
  };
  socketElt.addEventListener("htmx:wsOpen", (e) => {
    socket = e.detail.socketWrapper;
    readSeq();
    // Tell the server where this page is; it replays what was missed, or asks for a fresh board.
    send({ type: "hello", last_seq: lastSeq, filters: filters() });
    status("live", true);
  });
  socketElt.addEventListener("htmx:wsClose", () => status("reconnecting…", false));
  socketElt.addEventListener("htmx:wsBeforeMessage", (e) => {
    e.preventDefault(); // frames are placed here, then swapped by htmx
    if (busy) waiting.push(e.detail.message);
    else applyFrame(e.detail.message);
  });
  // New filters: the socket hears them as the request leaves, so frames sent while the new board loads are
  // already stated for it (and again once it is in, above).
  document.addEventListener("htmx:beforeRequest", (e) => {
    if (e.detail.elt.id === "filters") send({ type: "filters", filters: filters() });
  });
  setInterval(() => send({ type: "ping" }), 30000);
})();
