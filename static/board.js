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
  // The board's order (queries.BoardSort): by position, or highest first by score, value or last activity.
  const boardSort = () => (document.getElementById("board") || socketElt).dataset.sort || "position";
  const byPosition = () => boardSort() === "position";
  const SORT_ATTRS = { score: "score", value: "value", activity: "activity" };
  const keyOf = (card) => byPosition()
    ? [Number(card.dataset.position), Number(leadId(card))]
    : [-Number(card.dataset[SORT_ATTRS[boardSort()]] || 0), Number(leadId(card))];
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
    // A filtered board's headers count only its matches: the frame's (the unfiltered board's) are not for it.
    const ownHeaders = seqElt && seqElt.dataset.headers === "filtered";
    if (seqElt) { seqElt.remove(); lastSeq = Math.max(lastSeq, seq); }
    if (fragment.querySelector("#board-refresh")) return reloadBoard();
    for (const elt of [...fragment.children]) {
      if (elt.classList.contains("card")) {
        elt.dataset.canMove = movable.has(leadId(elt)) ? "1" : "0";
        if (!prepareCard(elt, false, hidden.has(leadId(elt)))) elt.remove();
      } else if (elt.classList.contains("column-header") && ownHeaders) {
        elt.remove();
        refreshHeaders();
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

  // One request at a time for the filtered headers; a frame arriving meanwhile asks for one more after it.
  let headersWanted = false, headersLoading = false;
  function refreshHeaders() {
    headersWanted = true;
    if (headersLoading) return;
    headersWanted = false;
    headersLoading = true;
    htmx.ajax("GET", "/leads/kanban/headers/?" + filters(), { swap: "none", source: socketElt }).finally(() => {
      headersLoading = false;
      if (headersWanted) refreshHeaders();
    });
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

  // Where a card was dropped, for the move request: its neighbours in position order. A column sorted
  // otherwise shows no positions to drop between, so the card goes to the top of the column's own order.
  function placement(card, list) {
    if (!byPosition()) return { stage: list.dataset.stage, index: 0 };
    const cards = [...list.querySelectorAll(":scope > .card")];
    const index = cards.indexOf(card);
    const where = { stage: list.dataset.stage, index };
    if (cards[index - 1]) where.prev = leadId(cards[index - 1]);
    if (cards[index + 1]) where.next = leadId(cards[index + 1]);
    return where;
  }

  async function move(card, list, origin) {
    const body = new URLSearchParams({ ...placement(card, list), version: card.dataset.version });
    let moved = false;
    card.classList.add("saving");
    try {
      const response = await fetch(`/leads/${leadId(card)}/move/`, {
        method: "POST", body, headers: { "X-CSRFToken": csrf, "X-Requested-With": "fetch" },
      });
      const text = await response.text();
      if (response.ok || response.status === 409) {
        applyOwnCard(text);
        moved = response.ok;
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
    return moved;
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
      sort: byPosition(), // sorted by score, value or activity, a column's order is not the user's to change
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
      // Offer only what the viewer may do: a live frame's card comes with every action (one render for all).
      if (locked) for (const action of card.querySelectorAll("[data-needs=change]")) action.remove();
    }
    for (const list of root.matches(".cards") ? [root] : root.querySelectorAll(".cards")) initSortable(list);
    for (const header of root.matches(".column-header") ? [root] : root.querySelectorAll(".column-header")) {
      countTab(header);
    }
    if (root.id === "board" || root.querySelector("#board")) {
      readSeq();
      send({ type: "filters", filters: filters() });
      showStage(currentStage);
      for (const slug of expanded) fold(document.getElementById("col-" + slug), false);
    }
  }
  htmx.onLoad(decorate);

  // --- Phone: one stage at a time, chosen by the tabs above the columns, each with its column's count. ---
  let currentStage = null;
  function showStage(slug) {
    const columns = [...document.querySelectorAll(".column")];
    const column = columns.find((c) => c.dataset.stage === slug) || columns[0];
    if (!column) return;
    currentStage = column.dataset.stage;
    for (const c of columns) c.classList.toggle("current", c === column);
    for (const tab of document.querySelectorAll(".stage-tab")) {
      tab.setAttribute("aria-pressed", String(tab.dataset.stage === currentStage));
    }
  }
  function countTab(header) {
    const slug = header.id.replace(/^col-|-header$/g, "");
    const count = document.querySelector(`.stage-tab[data-stage="${slug}"] .tab-count`);
    if (count) count.textContent = header.dataset.count;
  }

  // --- Wide screens: Won and Lost start folded (slim drop targets); a click opens or folds one. ---
  const expanded = new Set();
  function fold(column, folded) {
    if (!column) return;
    column.classList.toggle("collapsed", folded);
    if (folded) expanded.delete(column.dataset.stage);
    else expanded.add(column.dataset.stage);
    const button = column.querySelector(":scope > .expand");
    if (button) {
      const name = column.getAttribute("aria-label");
      button.setAttribute("aria-expanded", String(!folded));
      button.textContent = `${folded ? "Show" : "Hide"} ${name}`;
    }
  }

  // --- "Move to…": the stages as a small menu in the dialog; the same move request as a drag. ---
  function openMoveMenu(card) {
    const dialog = document.getElementById("dialog");
    const body = document.getElementById("dialog-body");
    const name = card.querySelector(".card-name").textContent;
    const title = Object.assign(document.createElement("h2"), { textContent: `Move ${name} to…`, id: "move-title" });
    const menu = Object.assign(document.createElement("ul"), { className: "move-menu" });
    for (const column of document.querySelectorAll(".column")) {
      const button = Object.assign(document.createElement("button"), {
        type: "button", textContent: column.getAttribute("aria-label"),
      });
      button.dataset.stage = column.dataset.stage;
      if (column.dataset.stage === card.dataset.stage) {
        button.setAttribute("aria-current", "true");
        button.disabled = true;
      }
      button.addEventListener("click", () => {
        dialog.close();
        moveTo(card, column.dataset.stage);
      });
      const item = document.createElement("li");
      item.append(button);
      menu.append(item);
    }
    const cancel = Object.assign(document.createElement("button"), { type: "button", textContent: "Cancel", className: "secondary" });
    cancel.dataset.closeDialog = "";
    body.replaceChildren(title, menu, cancel);
    dialog.setAttribute("aria-labelledby", "move-title");
    dialog.addEventListener("close", () => dialog.removeAttribute("aria-labelledby"), { once: true });
    dialog.showModal();
  }

  function moveTo(card, stage) {
    const list = document.getElementById(`col-${stage}-cards`);
    if (!list || busy) return;
    busy = card;
    const origin = { parent: card.parentNode, next: card.nextElementSibling };
    list.insertBefore(card, list.querySelector(":scope > .card"));
    const name = card.querySelector(".card-name").textContent;
    const stageName = list.closest(".column").getAttribute("aria-label");
    move(card, list, origin).then((ok) => { if (ok) notice(`Moved ${name} to ${stageName}.`, "ok"); });
  }

  // --- A locked card says why it does not move, when someone tries to drag it (or pick it up by keyboard). ---
  function refuse(card) {
    const owner = card.querySelector(".lock").textContent.replace(/'s$/, "");
    notice(`${card.querySelector(".card-name").textContent} is ${owner}'s lead: only ${owner} or a manager can move it.`);
    card.classList.add("refused");
    card.addEventListener("animationend", () => card.classList.remove("refused"), { once: true });
  }
  let press = null;
  document.addEventListener("pointerdown", (e) => {
    const card = e.target.closest(".card.locked");
    press = card && !e.target.closest("a, button") ? { card, x: e.clientX, y: e.clientY, told: false } : null;
    if (press && e.pointerType === "touch") {
      // Touch: the press-and-hold that starts a drag on a card of one's own.
      const held = press;
      setTimeout(() => { if (press === held && !held.told) { held.told = true; refuse(held.card); } }, 400);
    }
  });
  document.addEventListener("pointermove", (e) => {
    if (!press || press.told || e.pointerType === "touch") return;
    if (Math.abs(e.clientX - press.x) + Math.abs(e.clientY - press.y) > 8) {
      press.told = true;
      refuse(press.card);
    }
  });
  for (const end of ["pointerup", "pointercancel"]) document.addEventListener(end, () => { press = null; });

  document.addEventListener("click", (e) => {
    const tab = e.target.closest(".stage-tab");
    if (tab) showStage(tab.dataset.stage);
    const expand = e.target.closest(".column > .expand");
    if (expand) fold(expand.parentNode, !expand.parentNode.classList.contains("collapsed"));
    const moveButton = e.target.closest(".card .move-to");
    if (moveButton) openMoveMenu(moveButton.closest(".card"));
    if (e.target.closest("#clear-filters")) clearFilters();
  });

  // Clear every filter but the order, and reload the board as any filter change does.
  function clearFilters() {
    const form = document.getElementById("filters");
    for (const field of form.elements) {
      if (field.name === "sort" || !field.name) continue;
      if (field.type === "checkbox") field.checked = false;
      else field.value = "";
    }
    htmx.trigger(form, "submit");
  }

  // Keyboard: Space or Enter picks a card up, arrows carry it (left/right: columns, up/down: place),
  // Space or Enter drops it (the same move request as a drag), Escape puts it back.
  let carried = null;
  document.addEventListener("keydown", (e) => {
    const card = e.target.closest && e.target.closest(".card");
    if (!card || e.target !== card) return;
    if (!carried) {
      if ((e.key === " " || e.key === "Enter") && card.classList.contains("locked")) {
        e.preventDefault();
        refuse(card);
      } else if (e.key === " " || e.key === "Enter") {
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
    } else if (e.key === "ArrowUp" && byPosition() && card.previousElementSibling?.matches(".card")) {
      list.insertBefore(card, card.previousElementSibling);
    } else if (e.key === "ArrowDown" && byPosition() && card.nextElementSibling?.matches(".card")) {
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
