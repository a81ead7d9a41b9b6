// The model card's charts: learning curve and reliability plot, drawn with Chart.js from the data the
// template writes into a json_script element (no inline script). The panel is replaced when a model is
// trained or the dashboard socket pushes it, so charts are (re)drawn on every htmx load as well.
(function () {
  "use strict";

  const charts = [];

  function draw() {
    const source = document.getElementById("model-charts-data");
    if (!source || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    while (charts.length) charts.pop().destroy(); // canvases from a replaced panel are gone
    const curve = document.getElementById("learning-curve");
    if (curve && data.curve.length) charts.push(learningCurve(curve, data));
    const reliability = document.getElementById("reliability-plot");
    if (reliability && data.reliability.length) charts.push(reliabilityPlot(reliability, data.reliability));
  }

  function learningCurve(canvas, data) {
    const points = data.curve.map((p) => ({ x: p.n, y: p.auc }));
    const datasets = [{ label: "Model, held-out AUC", data: points, borderColor: "#2f6fde", tension: 0.2 }];
    if (data.heuristic_auc !== null) {
      const ends = [points[0].x, points[points.length - 1].x].map((x) => ({ x, y: data.heuristic_auc }));
      datasets.push({ label: "Heuristic", data: ends, borderColor: "#98a2b3", borderDash: [6, 4], pointRadius: 0 });
    }
    return new Chart(canvas, {
      type: "line",
      data: { datasets },
      options: {
        animation: false,
        scales: {
          x: { type: "logarithmic", title: { display: true, text: "closed leads trained on" } },
          y: { suggestedMin: 0.5, suggestedMax: 1, title: { display: true, text: "ROC AUC" } },
        },
      },
    });
  }

  function reliabilityPlot(canvas, bins) {
    const top = Math.max(...bins.map((b) => Math.max(b.predicted, b.observed)), 0.1);
    return new Chart(canvas, {
      type: "scatter",
      data: {
        datasets: [
          {
            label: "Held-out leads (each point a group of equal size)",
            data: bins.map((b) => ({ x: b.predicted * 100, y: b.observed * 100, n: b.n })),
            backgroundColor: "#2f6fde",
          },
          {
            label: "Perfect calibration",
            type: "line",
            data: [{ x: 0, y: 0 }, { x: top * 100, y: top * 100 }],
            borderColor: "#98a2b3",
            borderDash: [6, 4],
            pointRadius: 0,
          },
        ],
      },
      options: {
        animation: false,
        scales: {
          x: { min: 0, title: { display: true, text: "predicted score" } },
          y: { min: 0, title: { display: true, text: "% converted" } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) =>
                item.raw.n === undefined
                  ? ""
                  : `score ${item.raw.x.toFixed(0)}: ${item.raw.y.toFixed(0)}% of ${item.raw.n} converted`,
            },
          },
        },
      },
    });
  }

  draw();
  document.addEventListener("htmx:load", (event) => {
    if (event.target.closest && event.target.closest("#model-panel")) draw();
  });
})();
