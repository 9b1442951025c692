// The studio's only script (README: The studio). When a template or config.toml is
// saved the server says so on /events; the preview is fetched again and swapped in,
// so the page keeps its place and focus. No inline script: the CSP allows only this file.
(function () {
  "use strict";
  var region = document.getElementById("preview");
  var live = document.getElementById("live");
  if (!region || !window.EventSource || !window.fetch) {
    return;
  }
  var busy = false;
  var again = false;

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(region.getAttribute("data-fragment") + window.location.search, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.text();
      })
      .then(function (html) {
        var open = Array.prototype.map.call(region.querySelectorAll("details[open]"), function (d) {
          return d.className;
        });
        region.innerHTML = html;
        open.forEach(function (name) {
          var d = name && region.querySelector("details." + name);
          if (d) {
            d.open = true;
          }
        });
        region.setAttribute("data-updated", String(Date.now()));
        if (live) {
          live.textContent = "Preview updated at " + new Date().toLocaleTimeString() + ".";
        }
      })
      .catch(function () {
        if (live) {
          live.textContent = "The studio did not answer; is it still running?";
        }
      })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var source = new EventSource(region.getAttribute("data-events"));
  source.addEventListener("change", refresh);
})();
