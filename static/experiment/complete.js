// The completion page (templates/experiment/complete.html): back to the recruitment site after
// a few seconds, unless the participant stays (the button) or starts writing a comment.
(function () {
  "use strict";
  var note = document.getElementById("redirect-note");
  var link = document.getElementById("completion-link");
  var countdown = document.getElementById("redirect-countdown");
  var box = document.getElementById("feedback");
  var stay = document.getElementById("redirect-stay");
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
    stay.hidden = true;
    note.textContent = "You stay on this page. Press \u201cSend and return\u201d after writing " +
      "a comment, or \u201cReturn and confirm completion\u201d to go back without one.";
  }

  stay.hidden = false;
  stay.addEventListener("click", function () {
    pause();
    note.focus(); // the button is gone: read out what happens now
  });
  box.addEventListener("focus", pause);
  box.addEventListener("input", pause);
  // Started writing before this script ran (a slow connection): that counts too. (A comment
  // sent on an earlier visit is the box's default value, not new writing.)
  if (box.value !== box.defaultValue || document.activeElement === box) pause();
})();
