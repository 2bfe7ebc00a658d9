// The call scorecard's behaviour: click a mark, a time, a transcript line or a criterion to jump
// there (and the player with it); the player's playhead moves the timeline's cursor.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("call-data").textContent);
  var svg = document.getElementById("timeline");
  var scroller = document.getElementById("scroller");
  var cursor = document.getElementById("cursor");
  var audio = document.getElementById("audio");
  var pps = data.view.px_per_s, left = data.view.left_px;
  var rows = Array.prototype.slice.call(document.querySelectorAll("#transcript [data-start]"));

  function show(t, fromAudio) {
    var x = left + t * pps;
    cursor.setAttribute("x1", x); cursor.setAttribute("x2", x);
    if (!fromAudio) {
      scroller.scrollLeft = Math.max(0, x - scroller.clientWidth / 3);
      if (audio) { audio.currentTime = t; }
    } else if (x < scroller.scrollLeft + left || x > scroller.scrollLeft + scroller.clientWidth - 20) {
      scroller.scrollLeft = Math.max(0, x - left - 20);
    }
    var first = null;
    rows.forEach(function (r) {
      var on = +r.dataset.start <= t && t <= +r.dataset.end;
      r.classList.toggle("now", on);
      if (on && !first) { first = r; }
    });
    if (first && !fromAudio) { first.scrollIntoView({block: "nearest"}); }
  }

  function highlight(id) {
    document.querySelectorAll(".hl, tr.sel").forEach(function (el) { el.classList.remove("hl", "sel"); });
    if (!id) { return; }
    document.querySelectorAll('[data-criterion="' + id + '"]').forEach(function (el) {
      el.classList.add(el.tagName === "TR" ? "sel" : "hl");
    });
  }

  document.addEventListener("click", function (e) {
    var el = e.target.closest("[data-t]");
    if (el) {
      e.preventDefault();
      highlight(el.dataset.criterion || null);
      show(+el.dataset.t, false);
    } else if (e.target.closest("tr.criterion")) {
      highlight(e.target.closest("tr.criterion").dataset.criterion);
    } else if (svg.contains(e.target)) {
      var box = svg.getBoundingClientRect();
      var t = (e.clientX - box.left - left) / pps;
      if (t >= 0 && t <= data.duration_s) { show(t, false); }
    }
  });
  if (audio) { audio.addEventListener("timeupdate", function () { show(audio.currentTime, true); }); }
  document.body.dataset.ready = "1";   // the script ran to its end (the browser test reads it)
})();
