// The HIT page: one item at a time; each answer is sent to the vote endpoint with the
// assignment's token and the item's place in the assignment, and stored before the next item
// shows. Click or keyboard. An item's answers are enabled, and its time starts, once all its
// pictures have loaded; a held-down key does not answer the next items.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("hit-data").textContent);
  const steps = data.steps;
  const ab = data.kind === "ab";
  const preview = data.mode === "preview";
  const status = document.getElementById("status");
  const item = document.getElementById("item");
  const buttons = Array.from(document.querySelectorAll("button.answer"));
  const keys = ab
    ? { "1": "left", ArrowLeft: "left", "2": "right", ArrowRight: "right" }
    : { a: "accept", A: "accept", "1": "accept", r: "reject", R: "reject", "2": "reject" };
  const MIN_SECONDS = 0.3; // the answers open this long after an item's pictures show
  let index = 0;
  let shownAt = 0;
  let ready = false;
  let busy = false;

  function setBusy(value) {
    busy = value;
    buttons.forEach(function (b) { b.disabled = value || preview || !ready; });
  }

  function preload(step) {
    if (!step) return;
    Object.values(step.views).forEach(function (url) { const img = new Image(); img.src = url; });
  }

  function show() {
    while (index < steps.length && steps[index].voted && !preview) index += 1;
    if (index >= steps.length) { finish(); return; }
    const step = steps[index];
    ready = false;
    setBusy(false);
    item.classList.add("loading");
    document.getElementById("step-number").textContent = String(step.number);
    const images = Object.keys(step.views).map(function (view) {
      const img = document.getElementById("view-" + view);
      return new Promise(function (resolve) {
        if (!img) { resolve(); return; }
        img.onload = resolve;
        img.onerror = resolve;
        img.src = step.views[view];
      });
    });
    Promise.all(images).then(function () {
      if (steps[index] !== step) return;
      item.classList.remove("loading");
      shownAt = performance.now();
      preload(steps[index + 1]);
      // The answers open a moment after the pictures show: a double click or a key pressed for
      // the last item does not answer this one unseen.
      setTimeout(function () {
        if (steps[index] !== step) return;
        ready = true;
        setBusy(false);
      }, MIN_SECONDS * 1000);
    });
  }

  function finish() {
    item.hidden = true;
    document.getElementById("answers").hidden = true;
    const done = document.getElementById("done");
    if (done) done.hidden = false;
    const answered = document.getElementById("answered");
    if (answered) answered.value = String(steps.length);
    status.textContent = "";
    const next = document.getElementById("submit-button") || document.getElementById("next-button");
    if (next) next.focus();
  }

  function next(value) {
    steps[index].voted = value;
    status.textContent = "";
    index += 1;
    busy = false;
    ready = false;
    show();
  }

  function answer(value) {
    if (busy || preview || !ready || index >= steps.length) return;
    const seconds = (performance.now() - shownAt) / 1000;
    const step = steps[index];
    setBusy(true);
    status.textContent = "Saving…";
    status.className = "status";
    const controller = new AbortController();
    const timer = setTimeout(function () { controller.abort(); }, 20000);
    fetch(data.voteUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "omit",
      signal: controller.signal,
      body: JSON.stringify({ token: data.token, step: step.step, answer: value, seconds: seconds }),
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.ok || body.settled) { next(value); return; }
          const error = new Error(body.detail || ("the server answered " + response.status));
          error.final = response.status === 403 || response.status === 409 || response.status === 410;
          throw error;
        });
      })
      .catch(function (error) {
        const what = error.name === "AbortError" ? "no answer from the server" : error.message;
        status.textContent = "Not saved: " + what + (error.final ? ". Reload the page or go back to your queue." : ". Try again.");
        status.className = "status error";
        setBusy(false);
      })
      .finally(function () { clearTimeout(timer); });
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () { answer(button.dataset.answer); });
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.repeat) return;
    const value = keys[event.key];
    if (value) { event.preventDefault(); answer(value); }
  });
  show();
})();
