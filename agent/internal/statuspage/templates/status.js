"use strict";
// Streams the output of each run shown (pre[data-events]) as it comes; without this script the page
// shows the output as it was when loaded, and each run's own page shows all of it.
(function () {
  if (!window.EventSource) {
    return;
  }
  document.querySelectorAll("pre[data-events]").forEach(function (pre) {
    var state = document.getElementById(pre.getAttribute("data-state"));
    var src = new EventSource(pre.getAttribute("data-events"));
    src.addEventListener("line", function (e) {
      var follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(e.data + "\n"));
      while (pre.childNodes.length > 2000) {
        pre.removeChild(pre.firstChild);
      }
      if (follow) {
        pre.scrollTop = pre.scrollHeight;
      }
    });
    src.addEventListener("end", function () {
      src.close();
      if (state) {
        state.textContent = "finished";
      }
    });
  });
})();
