// The completion page (templates/experiment/complete.html): back to the recruitment site after
// a few seconds, unless the participant stays (the button) or starts writing a comment.
(function () {
  "use strict";
  var note = document.getElementById("redirect-note");
  var link = document.getElementById("completion-link");
  var countdown = document.getElementById("redirect-countdown");
  var box = document.getElementById("feedback");
  var stay = document.getElementById("redirect-stay");
  var live = document.getElementById("redirect-live"); // a polite live region
  var left = parseInt(note.dataset.seconds, 10);
  var warnAt = 5; // seconds left when a screen reader is told again

  // The seconds tick outside the live region: a screen reader would otherwise read every one.
  var timer = window.setInterval(function () {
    left -= 1;
    countdown.textContent = String(Math.max(left, 0));
    if (left === warnAt) {
      live.textContent = "In " + warnAt + " seconds you will be taken back to the recruitment " +
        "site. Press \u201cStay on this page\u201d to stay.";
    }
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

  // Gone by the link already: the countdown must not send them a second time.
  link.addEventListener("click", function () {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  });

  stay.hidden = false;
  stay.addEventListener("click", function () {
    pause();
    note.focus(); // the button is gone: read out what happens now
  });
  function pauseForComment() {
    if (timer === null) return;
    pause();
    live.textContent = "The countdown has stopped: you stay on this page."; // focus is in the box
  }
  box.addEventListener("focus", pauseForComment);
  box.addEventListener("input", pauseForComment);
  // Started writing before this script ran (a slow connection): that counts too. (A comment
  // sent on an earlier visit is the box's default value, not new writing.)
  if (box.value !== box.defaultValue || document.activeElement === box) {
    pause();
  } else if (document.activeElement === document.body || document.activeElement === null) {
    // A screen reader (or keyboard) user must learn of the countdown before it ends, not find
    // it by reading on: the focus goes to "Stay on this page", which is described by the note
    // ("You will be taken back ... in 20 seconds"), so both are read out, and one key stays.
    stay.focus();
  }
})();
