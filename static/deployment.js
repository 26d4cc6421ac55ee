// Follows a running deployment: appends new log lines and refreshes the progress part
// until the deployment has finished. Plain polling keeps it simple and proxy-friendly.
// A deployment is watched most closely just after the click, and many end within seconds, so
// the page asks often while the deployment is young (its first ticks come within a quarter
// second) and every 700 ms after. The progress part changes with the log (a new state, a new
// count, the end all write a line), so it is fetched when lines came, and at most every few
// seconds otherwise (its "running for"): one request per tick most of the time, not two.
// A finished deployment's log opens at its end, where the error is, and the "is queued" banner
// goes once the status is final: it would contradict the status beside it.
(function () {
  "use strict";
  const log = document.getElementById("log");
  const progress = document.getElementById("progress");
  if (!log || !progress) return;
  log.scrollTop = log.scrollHeight;

  function dropQueuedBanner() {
    for (const message of document.querySelectorAll(".messages .message.queued")) {
      const list = message.parentElement;
      message.remove();
      if (!list.children.length) list.remove();
    }
  }

  if (log.dataset.finished === "true") {
    dropQueuedBanner();
    return;
  }
  const note = document.getElementById("log-note");
  let after = Number(log.dataset.after) || 0;
  const INTERVAL = 700;
  const YOUNG_INTERVAL = 250;
  const YOUNG_FOR = 10000;
  const PROGRESS_AT_LEAST_EVERY = 5000;
  const loaded = Date.now();
  let progressAt = loaded;

  function line(entry) {
    const item = document.createElement("li");
    item.className = "level-" + entry.level;
    const time = document.createElement("time");
    time.dateTime = entry.time;
    time.textContent = new Date(entry.time).toISOString().slice(11, 19);
    const level = document.createElement("span");
    level.className = "level";
    level.textContent = entry.level;
    item.append(time, " ", level, " " + entry.message);
    return item;
  }

  async function refreshProgress() {
    progressAt = Date.now();
    const response = await fetch(progress.dataset.url, { credentials: "same-origin" });
    if (response.ok) progress.innerHTML = await response.text();
  }

  function nextTick() {
    setTimeout(tick, Date.now() - loaded < YOUNG_FOR ? YOUNG_INTERVAL : INTERVAL);
  }

  async function tick() {
    let finished = false;
    try {
      const response = await fetch(log.dataset.url + "?after=" + after, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) {
        const body = await response.json();
        // Keep following the end of the log, unless the reader scrolled up to read.
        const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
        for (const entry of body.log) {
          log.append(line(entry));
          after = entry.id;
        }
        if (atEnd) log.scrollTop = log.scrollHeight;
        // One more round after the end when lines came with it: a page holds at most 1000.
        finished = body.finished && body.log.length === 0;
        if (body.log.length || body.finished || Date.now() - progressAt >= PROGRESS_AT_LEAST_EVERY) {
          await refreshProgress();
        }
        if (body.finished) dropQueuedBanner();
        if (note) note.textContent = body.finished ? "" : "Following the deployment live…";
      } else if (note) {
        note.textContent = "Could not refresh (" + response.status + "); trying again.";
      }
    } catch (error) {
      if (note) note.textContent = "Connection lost; trying again.";
    }
    if (finished) {
      log.dataset.finished = "true";
    } else {
      nextTick();
    }
  }
  nextTick();
})();
