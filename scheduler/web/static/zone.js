// Pre-fills the time zone select with the browser's own zone, when the page has not
// chosen one already. Without JavaScript the select works as it is.
(function () {
  "use strict";
  function fill() {
    var select = document.querySelector("select[data-zone-auto]");
    if (!select || select.value) {
      return;
    }
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return;
    }
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) {
        select.selectedIndex = i;
        return;
      }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fill);
  } else {
    fill();
  }
})();
