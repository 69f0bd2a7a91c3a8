// The consent page: while it is open it tells the server every few minutes that the visitor is
// still reading, so a slow reader keeps their place (one who has not consented holds it for a
// few minutes only: views.reading). It stops once the server no longer keeps the place.
"use strict";

(function () {
  const form = document.getElementById("consent-form");
  const csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const timer = setInterval(async () => {
    let reply = null;
    try {
      reply = await fetch(form.dataset.readingUrl, {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken },
        credentials: "same-origin",
      });
    } catch (networkError) {
      return; // offline for now: the next try may get through
    }
    // A refusal (a link no longer valid) ends it too; a server error may pass.
    const kept = reply.ok ? (await reply.json()).kept : reply.status >= 500 || reply.status === 429;
    if (!kept) clearInterval(timer);
  }, Number(form.dataset.readingSeconds) * 1000);
})();
