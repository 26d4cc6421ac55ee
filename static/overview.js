// The overview stays open on people's screens: refresh the grid every 10 seconds, in place,
// so statuses change without a reload and without losing what is typed in the search box.
(function () {
  "use strict";
  const INTERVAL = 10000;

  async function refresh() {
    const grid = document.getElementById("grid");
    if (grid && !document.hidden) {
      try {
        const response = await fetch(window.location.href, { credentials: "same-origin" });
        if (response.ok) {
          const page = new DOMParser().parseFromString(await response.text(), "text/html");
          const fresh = page.getElementById("grid");
          if (fresh) grid.replaceWith(fresh);
        }
      } catch (error) {
        // Offline for a moment: the next round tries again.
      }
    }
    setTimeout(refresh, INTERVAL);
  }
  setTimeout(refresh, INTERVAL);
})();
