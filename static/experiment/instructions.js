// The instructions page (templates/experiment/instructions.html). Opened from the trial page
// ("Read the instructions again", a new tab), whose answer begun there is still open: the
// button closes this tab and goes back to it rather than opening a second trial page (answers
// from two would clash). Where the trial page has gone (closed, or moved on) the link works as
// on any visit; where the browser refuses to close the tab, the page says where the panels are.
(function () {
  "use strict";
  var start = document.getElementById("start-practice");
  function trialPageOpen() {
    try {
      var opener = window.opener;
      return Boolean(opener && !opener.closed && opener.location.pathname === start.pathname);
    } catch (elsewhere) {
      return false; // the opener shows another site's page: not the trial page
    }
  }
  if (!trialPageOpen()) return;
  var label = start.textContent;
  // The trial page may move on (to the completion page, say) while this tab is open: the
  // button says what it does when the participant comes back to this tab.
  function labelled() {
    start.textContent = trialPageOpen() ? "Back to the panels" : label;
  }
  labelled();
  document.addEventListener("visibilitychange", labelled);
  window.addEventListener("focus", labelled);
  start.addEventListener("click", function (event) {
    if (!trialPageOpen()) return;
    event.preventDefault();
    window.opener.focus();
    window.close();
    if (window.closed) return;
    var note = document.getElementById("back-note");
    note.textContent = "Your panels are in the tab you came from: switch back to it and " +
      "close this one.";
    note.hidden = false;
    note.focus();
  });
})();
