// trustdesk console: live countdowns to deadlines, and "select all" for bulk actions.
// Served from our own origin (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";

  function remaining(ms, lang) {
    const minutes = Math.floor(Math.abs(ms) / 60000);
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const mins = minutes % 60;
    if (lang === "ja") {
      return (days ? days + "日" : "") + (days || hours ? hours + "時間" : "") + mins + "分";
    }
    return (days ? days + "d " : "") + (days || hours ? hours + "h " : "") + mins + "m";
  }

  // Deadlines count down on the server's clock, not the browser's: a desk PC's clock may be
  // off, and a replayed scenario (trustdesk --now) runs at its own time.
  const serverNow = Date.parse(document.body.dataset.now || "");
  const offset = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function tick() {
    const lang = document.body.dataset.lang || "ja";
    const now = Date.now() + offset;
    document.querySelectorAll("time.countdown").forEach(function (el) {
      const ms = Date.parse(el.getAttribute("datetime")) - now;
      if (ms <= 0) {
        el.textContent = (el.dataset.overdue || "overdue") + " " + remaining(ms, lang);
        el.classList.add("overdue");
        const row = el.closest("tr");
        if (row) row.classList.add("overdue");
      } else {
        el.textContent = remaining(ms, lang);
        el.classList.toggle("soon", ms < 6 * 3600 * 1000);
      }
    });
  }

  function selectAll(event) {
    const box = event.target;
    const name = box.dataset.selectAll;
    if (!name) return;
    document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (el) {
      el.checked = box.checked;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    document.addEventListener("change", selectAll);
  });
})();
