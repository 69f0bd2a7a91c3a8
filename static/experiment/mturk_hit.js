// The MTurk HIT page (templates/experiment/mturk_hit.html): asks the server whether the
// participant has finished the study in its own tab, and then lets them submit the HIT.
(function () {
  "use strict";
  var form = document.getElementById("hit-form");
  var statusUrl = form.dataset.statusUrl;
  var assignment = form.elements.assignmentId.value;
  var statusText = document.getElementById("hit-status");
  var submit = document.getElementById("hit-submit");
  var stopped = false;
  var POLL_MS = 4000;

  function stop(message) {
    stopped = true;
    statusText.textContent = message;
  }

  function update(state) {
    if (state.mturk_assignment_id !== assignment) {
      // The worker opened the study from another HIT since: that one is the one that counts.
      stop("You have opened this study from another HIT, which is the one to submit. " +
           "Please return this HIT (do not submit it).");
      document.getElementById("hit-open-step").hidden = true; // not to be opened from here now
    } else if (state.completed) {
      document.getElementById("hit-code").value = state.completion_code;
      submit.disabled = false;
      stop("You have finished the study. Submit the HIT to complete it.");
      submit.focus();
    }
  }

  function check() {
    if (stopped || document.hidden) return;
    fetch(statusUrl, { cache: "no-store", credentials: "omit" })
      .then(function (reply) {
        if (reply.status === 404) {
          stop("This HIT's study link is no longer valid. Please open the HIT again from MTurk.");
          return null;
        }
        return reply.ok ? reply.json() : null;
      })
      .then(function (state) { if (state && !stopped) update(state); })
      .catch(function () { /* offline for a moment: the next check tries again */ });
  }

  window.setInterval(check, POLL_MS);
  window.addEventListener("focus", check);
  document.addEventListener("visibilitychange", check);
})();
