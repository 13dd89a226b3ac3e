// Live progress of fit jobs: polls the staff API and updates every [data-job] row in place.
(function () {
  const rows = document.querySelectorAll("[data-job]");
  if (!rows.length) return;
  const url = document.body.dataset.progressUrl;
  function eta(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    if (seconds < 90) return seconds + " s";
    return Math.round(seconds / 60) + " min";
  }
  async function poll() {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const jobs = await response.json();
        for (const job of Array.isArray(jobs) ? jobs : [jobs]) {
          for (const row of document.querySelectorAll(`[data-job="${job.id}"]`)) {
            row.querySelector(".job-status").textContent = job.state;
            row.querySelector(".job-bar").value = job.percent;
            row.querySelector(".job-percent").textContent = job.percent.toFixed(1) + "%";
            row.querySelector(".job-counts").textContent = `${job.people_done} / ${job.people_total}`;
            row.querySelector(".job-failed").textContent = job.people_failed;
            row.querySelector(".job-rate").textContent = job.rate_per_s.toFixed(2) + "/s";
            row.querySelector(".job-eta").textContent = eta(job.eta_s);
          }
        }
      }
    } catch (error) {
      // the next poll tries again
    }
    setTimeout(poll, 2000);
  }
  poll();
})();
