// The completion page (templates/experiment/complete.html): back to the recruitment site after
// a few seconds, unless the participant starts writing a comment, which pauses the countdown.
(function () {
  "use strict";
  var note = document.getElementById("redirect-note");
  var link = document.getElementById("completion-link");
  var countdown = document.getElementById("redirect-countdown");
  var box = document.getElementById("feedback");
  var left = parseInt(note.dataset.seconds, 10);

  var timer = window.setInterval(function () {
    left -= 1;
    countdown.textContent = String(Math.max(left, 0));
    if (left <= 0) {
      window.clearInterval(timer);
      window.location.assign(link.href);
    }
  }, 1000);

  function pause() {
    if (timer === null) return;
    window.clearInterval(timer);
    timer = null;
    note.textContent = "Paused while you write. Press \u201cSend and return\u201d when you are " +
      "done, or use the button to go back without a comment.";
  }

  box.addEventListener("focus", pause);
  box.addEventListener("input", pause);
})();
