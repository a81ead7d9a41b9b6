// Charts drawn from data the server put in json_script elements (no inline scripts). On the dashboard the
// socket swaps new data in (hx-swap-oob) and the same charts are updated in place, not rebuilt.
(function () {
  "use strict";

  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  const charts = new Map(); // canvas -> Chart

  function read(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function dress(data, type) {
    data.datasets.forEach((dataset, i) => {
      const colour = PALETTE[i % PALETTE.length];
      dataset.backgroundColor = colour;
      dataset.borderColor = colour;
      if (type === "line") Object.assign(dataset, { fill: false, spanGaps: true, tension: 0.2, pointRadius: 2 });
    });
    return data;
  }

  function options(canvas, data) {
    const percent = canvas.dataset.percent === "1" || data.datasets.some((d) => /%/.test(d.label));
    const n = data.n; // the count behind each point, shown with its rate
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: true,
      scales: { y: { beginAtZero: true, ...(percent ? { suggestedMax: 100, ticks: { callback: (v) => v + "%" } } : {}) } },
      plugins: {
        legend: { display: data.datasets.length > 1 || percent },
        tooltip: { callbacks: { afterLabel: (item) => (n ? "n=" + n[item.dataIndex] : "") } },
      },
    };
  }

  function draw(canvas) {
    const data = read(canvas.dataset.source);
    if (!data || typeof Chart === "undefined") return;
    const type = canvas.dataset.chart;
    const chart = charts.get(canvas);
    if (chart && chart.canvas === canvas && canvas.isConnected) {
      chart.data = dress(data, type);
      chart.options = options(canvas, data);
      chart.update("none");
      return;
    }
    charts.set(canvas, new Chart(canvas, { type, data: dress(data, type), options: options(canvas, data) }));
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  function status(text, live) {
    const element = document.getElementById("socket-status");
    if (!element) return;
    element.textContent = text;
    element.classList.toggle("live", live);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  // A dashboard frame has been swapped in: its chart data is new.
  document.addEventListener("htmx:wsAfterMessage", drawAll);
  let dropped = false;
  document.addEventListener("htmx:wsOpen", (e) => {
    status("live", true);
    // Back after a drop: ask for the figures that changed meanwhile, so no stale tile stays on screen.
    if (dropped) e.detail.socketWrapper.send(JSON.stringify({ type: "refresh" }));
    dropped = false;
  });
  document.addEventListener("htmx:wsClose", () => {
    dropped = true;
    status("reconnecting…", false);
  });
})();
