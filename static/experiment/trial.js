// The trial page: show each panel, ask Q1-Q3, save every answer at once, resume where left.
"use strict";

(function () {
  const study = JSON.parse(document.getElementById("study-state").textContent);
  const csrfToken = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const $ = (id) => document.getElementById(id);
  const trials = study.trials;
  const practiceCount = trials.filter((t) => t.practice).length;
  const mainCount = trials.length - practiceCount;
  // Q3's limits and separators, as the server sends them (experiment/answers.py), checked here
  // too so that an answer the server would refuse is told next to the box before it is sent.
  // The separators become a regular expression's character class: ] \ ^ - are escaped.
  const maxLabels = 2;
  const labelMaxChars = study.q3.labelMaxChars;
  const q3MaxChars = study.q3.maxChars;
  const labelSeparators = new RegExp(
    "[" + study.q3.separators.replace(/[\]\\^-]/g, "\\$&") + "]+");
  // A panel cannot be answered sooner after it shows: the second click of a double-click (or a
  // held key) on "No" must not also answer the next panel, unseen. Longer than the slowest
  // usual double-click (Windows' default double-click time is 500 ms), since with a fast server
  // and a preloaded image the next panel shows a few milliseconds after the first click.
  const minViewMs = 600;
  // Yes scrolls Q2's buttons into view on a phone, and the one under the finger (0-20%) would
  // take a second tap of Yes: a tap on Q2 this soon after Yes is not an answer. Keys are not
  // held back (a keyboard's Y then 4 is meant).
  const q2TapAfterYesMs = 500;
  const retriesBeforeHelp = 4; // failed saves before the reload button and contact advice show
  // The controls that answer a panel; the reload button is not one: it must stay pressable
  // while saving keeps failing.
  const answerControls = "#questions .choice, #next-button";
  const studyTitle = document.querySelector(".study-title").textContent.trim();

  let current = null; // the trial on screen
  let shownAt = null; // performance.now() when its image finished loading
  let q1 = null;
  let q2 = null;
  let yesAt = -Infinity; // performance.now() of the latest Yes
  let saving = false;

  function firstUnanswered() {
    return trials.find((t) => !t.answered) || null;
  }

  function preload(trial) {
    if (trial) new Image().src = trial.display;
  }

  // Between the phases the practice is finished (not "Practice panel 2 of 2" and half a bar).
  function showPracticeDone() {
    $("progress-text").textContent = "Practice finished";
    document.title = "Practice finished – " + studyTitle;
    $("progress-fill").style.width = "100%";
  }

  function showProgress(trial) {
    const inPractice = trial.practice;
    const done = trials.filter((t) => t.answered && t.practice === inPractice).length;
    const total = inPractice ? practiceCount : mainCount;
    const text = (inPractice ? "Practice panel " : "Panel ") + (done + 1) + " of " + total;
    $("progress-text").textContent = text;
    document.title = text + " – " + studyTitle; // screen readers and tabs tell panels apart
    $("progress-fill").style.width = Math.round((100 * done) / total) + "%";
    const label = $("phase-label");
    label.textContent = inPractice ? "Practice trial" : "Main study";
    label.classList.toggle("practice", inPractice);
  }

  function resetQuestions() {
    q1 = null;
    q2 = null;
    $("q3-input").value = "";
    $("followup").hidden = true;
    setError("q2", "");
    setError("q3", "");
    document.querySelectorAll(".choice").forEach((b) => b.setAttribute("aria-pressed", "false"));
    updateNext();
  }

  function show(trial) {
    // The first panel of a visit leaves the focus where the browser put it.
    const afterAnAnswer = current !== null;
    current = trial;
    shownAt = null;
    $("trial").hidden = false; // hidden in the page, so that without JavaScript none shows
    resetQuestions();
    setControls(false);
    showProgress(trial);
    scrollToPanel();
    loadPanel(trial, afterAnAnswer);
    $("zoom-image").removeAttribute("src");
    preload(trials.find((t) => !t.answered && t !== trial));
  }

  // On a phone the panel and the Yes / No row below it must be in view when a panel opens (on a
  // laptop all fit: nothing moves). After an answer the participant has scrolled down to the
  // questions: the frame goes back to the top of the screen. On the first panel of a visit
  // (the header and the small-screen notice above it) the page scrolls just enough to show the
  // Yes / No row, keeping as much as fits of what is above. The panel is sized (study.css) so
  // that with its frame at the top both fit.
  function scrollToPanel() {
    // Measured from the page's top: a frame stuck to the screen's top (study.css) no longer
    // says where it lies in the page.
    const scrolled = window.scrollY;
    window.scrollTo(0, 0);
    const frame = document.querySelector(".panel-frame").getBoundingClientRect();
    const panel = $("panel-image").getBoundingClientRect();
    const yesRow = document.querySelector(".q1-choice").getBoundingClientRect();
    const below = Math.max(panel.bottom, yesRow.bottom) + 4 - window.innerHeight;
    if (scrolled > frame.top) window.scrollTo(0, frame.top - 4);
    else if (below > 0) window.scrollBy(0, Math.min(frame.top - 4, below));
  }

  // Until the new image has loaded, the old one must not show under the new panel's number
  // (on a slow connection it would be rated again): it is hidden and a message says why.
  function loadPanel(trial, refocus) {
    const img = $("panel-image");
    img.classList.add("loading");
    $("panel-loading").hidden = false;
    img.onload = () => {
      if (shownAt !== null || current !== trial) return;
      shownAt = performance.now();
      img.classList.remove("loading");
      $("panel-loading").hidden = true;
      clearOfPanel();
      setStatus("");
      setTimeout(() => {
        if (current !== trial || saving) return;
        setControls(true);
        if (refocus) focusFirstQuestion();
      }, minViewMs);
    };
    let retries = 0;
    img.onerror = () => {
      retries += 1;
      setStatus("The images could not be loaded; trying again…", "problem");
      setTimeout(() => (img.src = trial.display + "?retry=" + retries), Math.min(10, retries) * 1000);
    };
    img.src = trial.display;
    if (img.complete && img.naturalWidth) img.onload(); // from the cache: no load event comes
  }

  // The button that answered the last panel was disabled, which dropped the keyboard focus on
  // the page's body (or "Start the main study" was hidden): give it back at Yes, unless the
  // participant put it elsewhere meanwhile. No scrolling here: scrollToPanel has placed the page.
  function focusFirstQuestion() {
    const focused = document.activeElement;
    if (focused && focused !== document.body && !focused.disabled) return;
    document.querySelector(".q1-choice").focus({ preventScroll: true });
  }

  function advance() {
    const next = firstUnanswered();
    if (!next) {
      window.location.assign(study.completeUrl);
      return;
    }
    // Between the phases: just after the last practice panel, or on a visit (a reload) that
    // finds the practice done and the main study not begun.
    const practiceJustDone = current
      ? current.practice
      : practiceCount > 0 && !trials.some((t) => !t.practice && t.answered);
    if (practiceJustDone && !next.practice) {
      $("trial").hidden = true;
      $("practice-done").hidden = false;
      showPracticeDone();
      $("start-main").focus();
      return;
    }
    show(next);
  }

  function setControls(enabled) {
    document.querySelectorAll(answerControls).forEach((b) => (b.disabled = !enabled));
    $("q3-input").disabled = !enabled;
    if (enabled) updateNext();
  }

  function labelsOf(text) {
    return text.split(labelSeparators).map(stripped).filter(Boolean);
  }

  // Blanks at both ends taken away as the server does (experiment/answers.py, LABEL_BLANKS):
  // JavaScript's \s, and \x1c-\x1f and \x85, which Python counts as blanks too.
  function stripped(text) {
    return text.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g, "");
  }

  // Characters as the server counts them (code points: an emoji is one, not two).
  function length(text) {
    return Array.from(text).length;
  }

  // What keeps Q3's text from being sent, in the participant's words; "" when nothing does.
  function q3Problem(text) {
    const labels = labelsOf(text);
    if (labels.length === 0) return "Write what you saw for Q3: one thing, or two.";
    if (labels.length > maxLabels) {
      return "Please write at most two things (you wrote " + labels.length + ").";
    }
    const long = labels.findIndex((label) => length(label) > labelMaxChars);
    if (long >= 0) {
      return "Each thing can be at most " + labelMaxChars + " characters; the " +
        (long === 0 ? "first" : "second") + " has " + length(labels[long]) +
        ". Please shorten it.";
    }
    if (length(stripped(text)) > q3MaxChars) {
      return "Q3 is too long: at most two things of " + labelMaxChars + " characters.";
    }
    return "";
  }

  // An error next to its question (Q2's buttons, Q3's box); "" takes it away. Q3's box is
  // marked invalid while it shows, and describes itself with it (aria-describedby).
  function setError(question, message) {
    $(question + "-error").textContent = message;
    if (question !== "q3") return;
    if (message) $("q3-input").setAttribute("aria-invalid", "true");
    else $("q3-input").removeAttribute("aria-invalid");
  }

  // Next stays focusable and pressable while something is missing (a disabled button is
  // skipped by Tab and says nothing when pressed): aria-disabled marks it, and pressing it
  // says what is missing (submitYes). It is disabled only while nothing may be answered.
  function updateNext() {
    const ready = q1 === "yes" && q2 !== null && q3Problem($("q3-input").value) === "";
    $("next-button").setAttribute("aria-disabled", String(!ready));
  }

  // As the participant types, too many things or too long a thing are told at once; an empty
  // box only when they try to move on. An error shown goes as soon as it is mended.
  function onQ3Input() {
    const text = $("q3-input").value;
    setError("q3", labelsOf(text).length === 0 ? "" : q3Problem(text));
    updateNext();
  }

  function press(selector, value) {
    document.querySelectorAll(selector).forEach((b) =>
      b.setAttribute("aria-pressed", String(b.dataset.value === String(value))));
  }

  function answerable() {
    return !saving && shownAt !== null && performance.now() - shownAt >= minViewMs;
  }

  function answerQ1(value) {
    if (!answerable()) return;
    q1 = value;
    press(".q1-choice", value);
    if (value === "no") {
      send({ q1: "no", q2: null, q3: "" });
      return;
    }
    yesAt = performance.now();
    $("followup").hidden = false;
    reveal(document.querySelector("#followup .bins"));
    updateNext();
  }

  // Scroll just enough to show what the answer opened (on a phone it lies below the screen).
  function reveal(element) {
    element.scrollIntoView({ block: "nearest" });
  }

  // On a phone the panel's frame stays at the top of the screen (study.css), over the page
  // scrolling beneath it: whatever the page scrolls to (an answer's follow-up, the focus) must
  // land below the frame, not under it. Kept up to date as the window and the panel change size.
  function clearOfPanel() {
    const frame = document.querySelector(".panel-frame");
    const columns = getComputedStyle(document.querySelector(".trial")).gridTemplateColumns;
    const above = getComputedStyle(frame).position === "sticky" && columns.split(" ").length === 1;
    document.documentElement.style.scrollPaddingTop = above ? frame.offsetHeight + "px" : "";
  }

  // The focus on a question that is missing its answer, with the question's text and its
  // error message in view (Q3's error shows above its box).
  function focusQuestion(element) {
    reveal(element.closest(".question"));
    element.focus({ preventScroll: true });
  }

  function answerQ2(bin) {
    if (saving || q1 !== "yes") return;
    q2 = bin;
    press(".q2-choice", bin);
    setError("q2", "");
    reveal($("next-button"));
    updateNext();
  }

  // Next, or Enter in Q3's box: send the answer, or say next to each question what is missing
  // and put the focus on the first of them. Nothing incomplete is sent.
  function submitYes() {
    if ($("next-button").disabled || q1 !== "yes") return;
    const text = $("q3-input").value;
    const problem = q3Problem(text);
    setError("q2", q2 === null ? "Choose a percentage for Q2." : "");
    setError("q3", problem);
    // The group, not its first button: a second Enter must not choose 0-20% for them.
    if (q2 === null) focusQuestion($("q2-group"));
    else if (problem) focusQuestion($("q3-input"));
    else send({ q1: "yes", q2: q2, q3: stripped(text) });
  }

  function setStatus(text, kind) {
    const status = $("save-status");
    status.textContent = text;
    status.className = "save-status" + (kind ? " " + kind : "");
    // Kept in view on a phone while it says something (study.css); empty, it would cover Yes.
    document.querySelector(".save-bar").classList.toggle("telling", text !== "");
  }

  // Saved answers are idempotent on the server, so a retry after a lost reply stores nothing twice.
  async function send(answer) {
    saving = true;
    setControls(false);
    const payload = Object.assign(
      { trial_index: current.index, panel_id: current.panelId,
        response_ms: Math.max(0, Math.round(performance.now() - shownAt)) },
      answer);
    setStatus("Saving your answer…");
    for (let attempt = 0; ; attempt++) {
      let reply = null;
      try {
        reply = await fetch(study.answerUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
          body: JSON.stringify(payload),
          credentials: "same-origin",
        });
      } catch (networkError) {
        reply = null;
      }
      if (reply && reply.ok) break;
      if (reply && reply.status >= 400 && reply.status < 500 && reply.status !== 429) {
        return refused(reply);
      }
      const wait = Math.min(15, 2 ** attempt);
      const help = attempt + 1 >= retriesBeforeHelp;
      setStatus("Connection problem: trying again in " + wait +
        " s. Your answers so far are safe; please keep this page open." +
        (help ? " If this goes on, reload the page later or contact the researcher." : ""),
        "problem");
      $("reload-button").hidden = !help;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
    saving = false;
    setStatus("");
    $("reload-button").hidden = true;
    current.answered = true;
    advance();
  }

  async function refused(reply) {
    let message = "The answer could not be saved.";
    try {
      message = (await reply.json()).error || message;
    } catch (notJson) {
      /* keep the default message */
    }
    saving = false;
    // 400: this answer was refused (a label too long, say) and can be mended on the page;
    // anything else (a link no longer valid, an answer already stored, trials changed in
    // another tab: 409) needs a reload.
    const mendable = reply.status === 400;
    // The server's reasons that name Q3 go next to its box, as the page's own do.
    const aboutQ3 = mendable && q1 === "yes" && /\bQ3\b/.test(message);
    const advice = mendable ? " Please change your answer and submit it again."
      : /reload/i.test(message) ? "" : " Reloading the page will continue where you left off.";
    if (aboutQ3) {
      setStatus("Your answer was not saved: see Q3.", "error");
      setError("q3", message + advice);
    } else {
      setStatus(message + advice, "error");
    }
    $("reload-button").hidden = mendable;
    setControls(true);
    if (aboutQ3) focusQuestion($("q3-input"));
    else if (!mendable) $("reload-button").focus(); // what the message asks them to do
  }

  function openZoom() {
    if (!current) return;
    const zoom = $("zoom-image");
    if (!zoom.getAttribute("src")) {
      // On a slow connection the dialog would stay blank until the file came.
      $("zoom-loading").hidden = false;
      zoom.onload = () => ($("zoom-loading").hidden = true);
      zoom.src = current.full;
      if (zoom.complete && zoom.naturalWidth) zoom.onload();
    }
    $("zoom-dialog").showModal();
    document.querySelector(".zoom-scroll").focus(); // arrow keys move the panel
  }

  // Single-key shortcuts can be turned off (speech input and some switch devices type letters),
  // and stay as the participant left them on this browser. Without storage (blocked, private
  // windows of some browsers) the choice lasts for the page.
  const keysStore = "amrating.keyboard-shortcuts";
  let keysOn = true;
  function setKeys(on) {
    keysOn = on;
    $("keys-on").checked = on;
    document.body.classList.toggle("keys-off", !on);
    // Screen readers announce aria-keyshortcuts: only while the keys work.
    document.querySelectorAll("[data-keys]").forEach((element) => {
      if (on) element.setAttribute("aria-keyshortcuts", element.dataset.keys);
      else element.removeAttribute("aria-keyshortcuts");
    });
    try {
      if (on) localStorage.removeItem(keysStore);
      else localStorage.setItem(keysStore, "off");
    } catch (error) {
      // storage unavailable: keep the choice for this page only
    }
  }
  document.querySelectorAll("[aria-keyshortcuts]").forEach((element) => {
    element.dataset.keys = element.getAttribute("aria-keyshortcuts");
  });

  // Digits by physical key, so 1-5 work on keyboards where digits need Shift (AZERTY).
  const binKeys = /^(Digit|Numpad)([1-5])$/;

  // The shortcut letter of a key press: the letter it types, so Y, N and Z sit where AZERTY
  // and QWERTZ keyboards print them; where the layout types no Latin letter (Cyrillic, Greek…),
  // the letter at that key's place on a US keyboard.
  function shortcutLetter(event) {
    const typed = event.key.toLowerCase();
    if (/^[a-z]$/.test(typed)) return typed;
    const place = /^Key([A-Z])$/.exec(event.code);
    return typed.length === 1 && place ? place[1].toLowerCase() : null;
  }

  // Dragging the full-size panel with a mouse moves it (touch screens scroll it natively).
  function dragToPan(area) {
    let from = null;
    area.addEventListener("pointerdown", (event) => {
      if (event.pointerType !== "mouse" || event.button !== 0) return;
      from = { x: event.clientX, y: event.clientY, left: area.scrollLeft, top: area.scrollTop };
      area.setPointerCapture(event.pointerId);
      area.classList.add("dragging");
    });
    area.addEventListener("pointermove", (event) => {
      if (!from) return;
      area.scrollLeft = from.left - (event.clientX - from.x);
      area.scrollTop = from.top - (event.clientY - from.y);
    });
    const stop = () => {
      from = null;
      area.classList.remove("dragging");
    };
    area.addEventListener("pointerup", stop);
    area.addEventListener("pointercancel", stop);
  }

  function onKey(event) {
    if (event.repeat || event.isComposing) return;
    const typing = event.target.tagName === "INPUT" && event.target.type === "text";
    if (typing || event.ctrlKey || event.metaKey || event.altKey) {
      if (event.key === "Enter" && event.target === $("q3-input")) {
        // Not also a press of the button submitYes may move the focus to (Q2's first).
        event.preventDefault();
        submitYes();
      }
      return;
    }
    if (!keysOn || $("zoom-dialog").open || $("trial").hidden) return;
    const bin = binKeys.exec(event.code);
    if (bin) {
      answerQ2(Number(bin[2]) - 1);
      event.preventDefault();
      return;
    }
    if (q1 === "yes") {
      // After "Yes", letters are the start of Q3's answer ("n" in "banana" is not "No"):
      // moving the focus lets the key itself type into the box. Space still presses a button.
      if (event.key.length === 1 && event.key !== " " && !$("q3-input").disabled) {
        $("q3-input").focus();
      }
      return;
    }
    const letter = shortcutLetter(event);
    if (letter === "y") answerQ1("yes");
    else if (letter === "n") answerQ1("no");
    else if (letter === "z") openZoom();
    else return;
    event.preventDefault();
  }

  document.querySelectorAll(".q1-choice").forEach((b) =>
    b.addEventListener("click", () => answerQ1(b.dataset.value)));
  document.querySelectorAll(".q2-choice").forEach((b) =>
    b.addEventListener("click", (event) => {
      // detail: the number of clicks, 0 for a key (Enter, Space) pressing the button.
      if (event.detail > 0 && performance.now() - yesAt < q2TapAfterYesMs) return;
      answerQ2(Number(b.dataset.value));
    }));
  $("q3-input").addEventListener("input", onQ3Input);
  $("next-button").addEventListener("click", submitYes);
  $("zoom-button").addEventListener("click", openZoom);
  $("zoom-close").addEventListener("click", () => $("zoom-dialog").close());
  dragToPan(document.querySelector(".zoom-scroll"));
  $("reload-button").addEventListener("click", () => window.location.reload());
  $("start-main").addEventListener("click", () => {
    $("practice-done").hidden = true;
    show(firstUnanswered());
  });
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", clearOfPanel);
  $("keys-on").addEventListener("change", () => setKeys($("keys-on").checked));
  let keysStored = null;
  try {
    keysStored = localStorage.getItem(keysStore);
  } catch (error) {
    // storage unavailable: shortcuts start on
  }
  setKeys(keysStored !== "off");
  $("progress").hidden = false; // hidden in the page: without JavaScript it never moves on
  // A reload must open like any visit (scrollToPanel places the page), not where the browser
  // had been scrolled to (below the panel, at Q3 say).
  if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  advance();
})();
